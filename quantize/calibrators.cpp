#include "quantize/calibrators.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "compress/error.h"
#include "quantize/quant_params.h"

namespace mc::quant {

Calibrator parse_calibrator(const std::string& s) {
  Calibrator c;
  if (s == "minmax") c.kind = CalibratorKind::MinMax;
  else if (s == "entropy") c.kind = CalibratorKind::Entropy;
  else if (s == "mse") c.kind = CalibratorKind::Mse;
  else if (s == "percentile") c.kind = CalibratorKind::Percentile;
  else if (s.rfind("percentile:", 0) == 0) {
    c.kind = CalibratorKind::Percentile;
    const std::string p = s.substr(11);
    char* end = nullptr;
    const double v = std::strtod(p.c_str(), &end);
    if (p.empty() || !end || *end != '\0' || !(v > 0.0) || v > 100.0)
      throw Error(ErrorKind::Input, "--calibrate '" + s + "': the percentile must be a number in (0, 100]");
    c.percentile = v;
  } else {
    throw Error(ErrorKind::Input, "--calibrate '" + s + "': expected minmax, percentile[:P], entropy or mse");
  }
  return c;
}

std::string calibrator_name(const Calibrator& c) {
  switch (c.kind) {
    case CalibratorKind::MinMax: return "minmax";
    case CalibratorKind::Entropy: return "entropy";
    case CalibratorKind::Mse: return "mse";
    case CalibratorKind::Percentile: {
      std::ostringstream os;
      os << "percentile:" << c.percentile;
      return os.str();
    }
  }
  return "?";
}

namespace {
bool smooth(std::vector<double>* h) {
  const double eps = 1e-4;
  size_t zeros = 0;
  for (double v : *h) zeros += v == 0;
  if (zeros == h->size()) return false;
  const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(h->size() - zeros);
  for (double& v : *h) v = v == 0 ? eps : v - eps1;
  return true;
}
}  // namespace

size_t kl_threshold_bins(const std::vector<uint64_t>& hist, size_t levels) {
  const size_t L = hist.size();
  if (levels == 0 || L <= levels) return L;
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = L;
  std::vector<double> p, q;
  for (size_t i = levels; i <= L; ++i) {
    p.assign(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(i));
    double outliers = 0;
    for (size_t k = i; k < L; ++k) outliers += static_cast<double>(hist[k]);
    p[i - 1] += outliers;
    q.assign(i, 0.0);
    const size_t merged = i / levels;
    for (size_t j = 0; j < levels; ++j) {
      const size_t start = j * merged, end = j + 1 == levels ? i : start + merged;
      double sum = 0;
      size_t nonzero = 0;
      for (size_t k = start; k < end; ++k) {
        sum += static_cast<double>(hist[k]);
        if (p[k] != 0) ++nonzero;
      }
      if (nonzero == 0) continue;
      for (size_t k = start; k < end; ++k)
        if (p[k] != 0) q[k] = sum / static_cast<double>(nonzero);
    }
    // As ONNX Runtime: zeros get eps, taken from the non-zero bins, so that one empty
    // group does not make KL infinite.
    if (!smooth(&p) || !smooth(&q)) continue;
    double sp = 0, sq = 0;
    for (size_t k = 0; k < i; ++k) sp += p[k], sq += q[k];
    double kl = 0;
    for (size_t k = 0; k < i; ++k) {
      const double pk = p[k] / sp, qk = q[k] / sq;
      kl += pk * std::log(pk / qk);
    }
    if (kl < best) best = kl, best_i = i;
  }
  return best_i;
}

double histogram_quant_error(const std::vector<uint64_t>& hist, const std::vector<double>& centres, float lo, float hi,
                             bool symmetric) {
  const ActParams p = activation_params(lo, hi, symmetric);
  double err = 0;
  for (size_t i = 0; i < hist.size(); ++i) {
    if (!hist[i]) continue;
    const float c = static_cast<float>(centres[i]);
    const int32_t q = quantize_value(c, p.scale, p.zero_point, -128, 127);
    const double d = static_cast<double>(c) - static_cast<double>(static_cast<float>(q - p.zero_point) * p.scale);
    err += static_cast<double>(hist[i]) * d * d;
  }
  return err;
}

namespace {

std::pair<float, float> percentile_range(const HistogramObserver& h, double percentile) {
  const auto& b = h.bins();
  const double tail = (100.0 - percentile) / 100.0 * static_cast<double>(h.count());
  float hi = h.max(), lo = h.min();
  double above = 0;
  for (size_t i = b.size(); i-- > 0;) {
    above += static_cast<double>(b[i]);
    if (above > tail) {
      hi = std::min(hi, static_cast<float>(h.lo() + h.bin_width() * static_cast<double>(i + 1)));
      break;
    }
  }
  double below = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    below += static_cast<double>(b[i]);
    if (below > tail) {
      lo = std::max(lo, static_cast<float>(h.lo() + h.bin_width() * static_cast<double>(i)));
      break;
    }
  }
  return {lo, hi};
}

std::pair<float, float> entropy_range(const HistogramObserver& h) {
  const auto& b = h.bins();
  const double w = h.bin_width();
  // The bin holding 0 starts each side.
  const size_t z = static_cast<size_t>(std::min<double>(static_cast<double>(b.size() - 1), std::floor(-h.lo() / w)));
  std::vector<uint64_t> pos(b.begin() + static_cast<std::ptrdiff_t>(z), b.end());
  std::vector<uint64_t> neg;
  for (size_t i = z + 1; i-- > 0;) neg.push_back(b[i]);
  uint64_t npos = 0, nneg = 0;
  for (size_t i = 1; i < pos.size(); ++i) npos += pos[i];
  for (size_t i = 1; i < neg.size(); ++i) nneg += neg[i];
  const size_t levels = (npos == 0 || nneg == 0) ? 255 : 128;
  float hi = 0, lo = 0;
  if (npos) hi = std::min(h.max(), static_cast<float>(h.lo() + w * static_cast<double>(z + kl_threshold_bins(pos, levels))));
  if (nneg) lo = std::max(h.min(), static_cast<float>(h.lo() + w * static_cast<double>(z + 1 - kl_threshold_bins(neg, levels))));
  return {lo, hi};
}

std::pair<float, float> mse_range(const HistogramObserver& h, bool symmetric) {
  const auto& b = h.bins();
  std::vector<double> centres(b.size());
  for (size_t i = 0; i < b.size(); ++i) centres[i] = h.lo() + h.bin_width() * (static_cast<double>(i) + 0.5);
  const float mn = std::min(h.min(), 0.f), mx = std::max(h.max(), 0.f);
  double best = std::numeric_limits<double>::infinity();
  std::pair<float, float> r{mn, mx};
  for (int k = 1; k <= 128; ++k) {
    const float f = static_cast<float>(k) / 128.f;
    const float lo = mn * f, hi = mx * f;
    const double e = histogram_quant_error(b, centres, lo, hi, symmetric);
    if (e < best) best = e, r = {lo, hi};
  }
  return r;
}

}  // namespace

std::pair<float, float> calibrate_range(const HistogramObserver& h, const Calibrator& c, bool symmetric) {
  if (!h.has_histogram()) return {0.f, 0.f};
  std::pair<float, float> r;
  switch (c.kind) {
    case CalibratorKind::MinMax: r = {h.min(), h.max()}; break;
    case CalibratorKind::Percentile: r = percentile_range(h, c.percentile); break;
    case CalibratorKind::Entropy: r = entropy_range(h); break;
    case CalibratorKind::Mse: r = mse_range(h, symmetric); break;
  }
  return {std::min(r.first, 0.f), std::max(r.second, 0.f)};
}

}  // namespace mc::quant
