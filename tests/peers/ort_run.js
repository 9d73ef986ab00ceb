#!/usr/bin/env node
// ort_run.js: run an ONNX model in ONNX Runtime (CPU, 1 intra-op thread) as a
// peer for tests and benchmarks. Inputs and outputs are .npy files.
//
//   node tests/peers/ort_run.js MODEL.onnx --in NAME=FILE.npy [--in ...] --out-dir DIR
//   node tests/peers/ort_run.js MODEL.onnx --in NAME=FILE.npy --bench [--runs N] [--warmup W]
//
// Every model output is written as DIR/<name>.npy (characters outside
// [A-Za-z0-9._-] in the name become '_'), plus DIR/outputs.tsv with one line
// "<file>\t<output name>" per output, in the model's output order.
// --bench prints {"p50_ms":..,"min_ms":..,"runs":N} (session.run latency only).
// --profile FILE: after that, a second session with ONNX Runtime's profiler on makes the
// same runs (warm-up + runs with --bench, else one) and its trace JSON is written to FILE
// (atomically). The timed session above never profiles: the profiler costs microseconds per
// node (mobile.onnx, batch 1: model_run 0.088 ms profiled vs 0.032 ms through Node unprofiled).
// With --bench the JSON line gets "profile": {"file", "model_run_p50_ms" (ORT's own timer of
// session.run, profiled), "kernels_per_run" (nodes of the optimized graph that
// ran, e.g. NCHWc reorders), "kernel_ms_per_run" (their summed durations, integer us each);
// medians over the timed runs}.
// Exit codes: 0 ok, 2 bad input or usage (one line on stderr), 3 internal error.
'use strict';

const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const ORT_PATH = path.join(REPO_ROOT, '.deps', 'ort', 'node_modules', 'onnxruntime-node');

class UsageError extends Error {}

// ---- NPY (format v1.0 written; v1.0/v2.0/v3.0 read), little-endian, C order ----
// One table of dtype traits: npy descr <-> ORT tensor type <-> typed array.
const DTYPES = [
  { descr: ['<f4'], ort: 'float32', size: 4, array: Float32Array },
  { descr: ['<f8'], ort: 'float64', size: 8, array: Float64Array },
  { descr: ['<f2'], ort: 'float16', size: 2, array: Uint16Array },
  { descr: ['<i8'], ort: 'int64', size: 8, array: BigInt64Array },
  { descr: ['<i4'], ort: 'int32', size: 4, array: Int32Array },
  { descr: ['|u1', '<u1'], ort: 'uint8', size: 1, array: Uint8Array },
  { descr: ['|i1', '<i1'], ort: 'int8', size: 1, array: Int8Array },
  { descr: ['|b1', '<b1'], ort: 'bool', size: 1, array: Uint8Array },
];
const MAX_HEADER = 64 * 1024;

function parseNpyHeader(text, file) {
  // The header is a Python dict literal; accept exactly the three keys numpy writes.
  const m = /^\{\s*'descr'\s*:\s*'([^']*)'\s*,\s*'fortran_order'\s*:\s*(True|False)\s*,\s*'shape'\s*:\s*\(([^)]*)\)\s*,?\s*\}\s*$/.exec(text);
  if (!m) throw new UsageError(`${file}: unsupported npy header ${JSON.stringify(text.slice(0, 80))}`);
  const [, descr, fortran, shapeText] = m;
  if (fortran === 'True') throw new UsageError(`${file}: fortran_order arrays are not supported`);
  const dt = DTYPES.find((d) => d.descr.includes(descr));
  if (!dt) throw new UsageError(`${file}: unsupported dtype '${descr}' (expected one of f4 f8 f2 i8 i4 u1 i1 b1, little-endian)`);
  const parts = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = parts.map((s) => {
    if (!/^\d+$/.test(s)) throw new UsageError(`${file}: bad dimension '${s}' in npy shape`);
    const v = Number(s);
    if (!Number.isSafeInteger(v)) throw new UsageError(`${file}: dimension ${s} too large`);
    return v;
  });
  return { dt, shape };
}

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`${file}: cannot read (${e.code || e.message})`);
  }
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) throw new UsageError(`${file}: not an npy file (bad magic)`);
  const major = buf[6];
  let hlen;
  let hstart;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    hstart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new UsageError(`${file}: truncated npy header`);
    hlen = buf.readUInt32LE(8);
    hstart = 12;
  } else {
    throw new UsageError(`${file}: unsupported npy version ${major}`);
  }
  if (hlen > MAX_HEADER) throw new UsageError(`${file}: npy header length ${hlen} exceeds ${MAX_HEADER}`);
  if (hstart + hlen > buf.length) throw new UsageError(`${file}: npy header length ${hlen} runs past end of file`);
  const { dt, shape } = parseNpyHeader(buf.toString('latin1', hstart, hstart + hlen).trim(), file);
  let numel = 1n;
  for (const d of shape) numel *= BigInt(d);
  const want = numel * BigInt(dt.size);
  const dataStart = hstart + hlen;
  const have = BigInt(buf.length - dataStart);
  if (want !== have) throw new UsageError(`${file}: expected ${want} data bytes for shape [${shape}] ${dt.ort}, got ${have}`);
  // Copy into a fresh, aligned buffer: the typed array must start on an element boundary.
  const n = Number(numel);
  const data = new dt.array(n);
  Buffer.from(data.buffer).set(buf.subarray(dataStart));
  return { type: dt.ort, shape, data };
}

function npyBytes(type, shape, data) {
  const dt = DTYPES.find((d) => d.ort === type);
  if (!dt) throw new Error(`output tensor type '${type}' has no npy mapping`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${dt.descr[0]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces so that magic(6)+version(2)+len(2)+header+'\n' is a multiple of 64.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  let body;
  if (type === 'bool') {
    body = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

// Write to a temp file in the same folder, then rename: no half-written outputs.
function writeFileAtomic(file, bytes) {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch (_) { /* already gone */ }
    throw e;
  }
}

function safeName(name) {
  let s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  if (s === '' || s === '.' || s === '..') s = `_${s}`;
  return s;
}

// ---- command line ----
function parseArgs(argv) {
  const opt = { model: null, inputs: [], outDir: null, bench: false, runs: 100, warmup: 10, profile: null };
  const intArg = (flag, v) => {
    if (v === undefined || !/^\d+$/.test(v)) throw new UsageError(`${flag} needs a non-negative integer, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--in') {
      const v = argv[++i];
      const eq = v === undefined ? -1 : v.indexOf('=');
      if (eq <= 0 || eq === v.length - 1) throw new UsageError(`--in needs NAME=FILE.npy, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
      opt.inputs.push({ name: v.slice(0, eq), file: v.slice(eq + 1) });
    } else if (a === '--out-dir') {
      opt.outDir = argv[++i];
      if (!opt.outDir) throw new UsageError('--out-dir needs a directory');
    } else if (a === '--bench') {
      opt.bench = true;
    } else if (a === '--runs') {
      opt.runs = intArg(a, argv[++i]);
      if (opt.runs < 1) throw new UsageError('--runs must be at least 1');
    } else if (a === '--warmup') {
      opt.warmup = intArg(a, argv[++i]);
    } else if (a === '--profile') {
      opt.profile = argv[++i];
      if (!opt.profile) throw new UsageError('--profile needs a file (where the ONNX Runtime profile JSON goes)');
    } else if (a === '-h' || a === '--help') {
      throw new UsageError('usage: node ort_run.js MODEL.onnx --in NAME=FILE.npy [--in ...] (--out-dir DIR | --bench [--runs N] [--warmup W]) [--profile FILE.json]');
    } else if (a.startsWith('-')) {
      throw new UsageError(`unknown option ${a}`);
    } else if (opt.model === null) {
      opt.model = a;
    } else {
      throw new UsageError(`unexpected argument ${a}`);
    }
  }
  if (!opt.model) throw new UsageError('missing MODEL.onnx (usage: node ort_run.js MODEL.onnx --in NAME=FILE.npy --out-dir DIR)');
  if (!opt.bench && !opt.outDir) throw new UsageError('give --out-dir DIR (or --bench)');
  return opt;
}

// The profile goes next to FILE first (ORT names it PREFIX_<date>.json), then is renamed:
// check up front that FILE's folder is writable and that FILE is not the model.
function checkProfileTarget(opt) {
  const file = path.resolve(opt.profile);
  const dir = path.dirname(file);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`${opt.profile}: cannot write the profile there (${e.code || e.message})`);
  }
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UsageError(`${opt.profile}: is a directory (--profile needs a file)`);
  if (fs.existsSync(file) && fs.realpathSync(file) === fs.realpathSync(opt.model))
    throw new UsageError(`${opt.profile}: is the model; write the profile to another file`);
}

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// Runs `count` session.run calls with ORT's profiler on, writes its JSON to opt.profile and
// returns the summary of the last `timed` runs (see the header).
async function profileRuns(ort, opt, sessionOptions, feeds, count, timed) {
  const file = path.resolve(opt.profile);
  const prefix = `${file}.tmp-${process.pid}`;
  const session = await ort.InferenceSession.create(opt.model, { ...sessionOptions, enableProfiling: true, profileFilePrefix: prefix });
  for (let i = 0; i < count; i++) await session.run(feeds);
  session.endProfiling();
  const dir = path.dirname(file);
  const base = `${path.basename(prefix)}_`;
  const written = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'));
  if (written.length !== 1) throw new Error(`ONNX Runtime wrote ${written.length} profile files for prefix ${prefix}`);
  const tmp = path.join(dir, written[0]);
  let events;
  try {
    events = JSON.parse(fs.readFileSync(tmp, 'utf8'));
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch (_) { /* already gone */ }
    throw e;
  }
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  if (runs.length !== count) throw new Error(`profile holds ${runs.length} model_run events, expected ${count}`);
  const kept = runs.slice(count - timed);
  // Each kernel event falls inside the model_run event of its run.
  const kernels = events.filter((e) => e.cat === 'Node' && typeof e.name === 'string' && e.name.endsWith('_kernel_time'))
    .sort((x, y) => x.ts - y.ts);
  const perRun = kept.map(() => ({ n: 0, us: 0 }));
  let k = 0;
  kept.forEach((r, i) => {
    while (k < kernels.length && kernels[k].ts < r.ts) k++;
    for (; k < kernels.length && kernels[k].ts <= r.ts + r.dur; k++) {
      perRun[i].n += 1;
      perRun[i].us += kernels[k].dur;
    }
  });
  return {
    file: opt.profile,
    model_run_p50_ms: median(kept.map((e) => e.dur)) / 1000,
    kernels_per_run: median(perRun.map((r) => r.n)),
    kernel_ms_per_run: median(perRun.map((r) => r.us)) / 1000,
  };
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opt.model)) throw new UsageError(`${opt.model}: no such file`);
  if (opt.profile) checkProfileTarget(opt);
  let ort;
  try {
    ort = require(ORT_PATH);
  } catch (e) {
    throw new Error(`cannot load onnxruntime-node from ${ORT_PATH} (run scripts/setup.sh): ${e.message}`);
  }
  const sessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  let session;
  try {
    session = await ort.InferenceSession.create(opt.model, sessionOptions);
  } catch (e) {
    throw new UsageError(`${opt.model}: ONNX Runtime cannot load the model: ${String(e.message).split('\n')[0]}`);
  }
  const feeds = {};
  for (const { name, file } of opt.inputs) {
    if (!session.inputNames.includes(name)) throw new UsageError(`${opt.model}: model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    if (name in feeds) throw new UsageError(`input '${name}' given twice`);
    const a = readNpy(file);
    feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) throw new UsageError(`${opt.model}: missing input(s) ${missing.join(', ')}`);

  const runOnce = async () => {
    try {
      return await session.run(feeds);
    } catch (e) {
      throw new UsageError(`${opt.model}: run failed: ${String(e.message).split('\n')[0]}`);
    }
  };

  let results;
  if (opt.bench) {
    for (let i = 0; i < opt.warmup; i++) results = await runOnce();
    const times = [];
    for (let i = 0; i < opt.runs; i++) {
      const t0 = process.hrtime.bigint();
      results = await runOnce();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((x, y) => x - y);
    const p50 = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
    const line = { p50_ms: p50, min_ms: times[0], runs: opt.runs };
    if (opt.profile) line.profile = await profileRuns(ort, opt, sessionOptions, feeds, opt.warmup + opt.runs, opt.runs);
    process.stdout.write(`${JSON.stringify(line)}\n`);
  } else {
    results = await runOnce();
    if (opt.profile) await profileRuns(ort, opt, sessionOptions, feeds, 1, 1);
  }

  if (opt.outDir) {
    fs.mkdirSync(opt.outDir, { recursive: true });
    const used = new Set();
    const manifest = [];
    for (const name of session.outputNames) {
      const t = results[name];
      let file = `${safeName(name)}.npy`;
      if (used.has(file)) throw new Error(`two outputs map to the same file name ${file}`);
      used.add(file);
      writeFileAtomic(path.join(opt.outDir, file), npyBytes(t.type, t.dims.map(Number), t.data));
      manifest.push(`${file}\t${name}\n`);
    }
    writeFileAtomic(path.join(opt.outDir, 'outputs.tsv'), Buffer.from(manifest.join(''), 'utf8'));
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    const line = String(e && e.message ? e.message : e).split('\n')[0];
    process.stderr.write(`ort_run: ${line}\n`);
    process.exit(e instanceof UsageError ? 2 : 3);
  },
);
