// The module's one exported entry: the table of its functions. The module is linked
// with -Bsymbolic, so these addresses (and every call inside the module) are the
// module's own definitions, not the forwarding ones of lazy_entry.cpp in the program.
#include "distill/entry_points.h"

#include "distill/ir_on_libtorch.h"
#include "distill/torchscript_export.h"
#include "distill/torchscript_import.h"

extern "C" __attribute__((visibility("default"))) const mc::distill::EntryPoints* mc_distill_entry_points() {
  static const mc::distill::EntryPoints e{
      mc::distill::kEntryPointsVersion,   &mc::distill::import_torchscript_file, &mc::distill::run_torchscript_file,
      &mc::distill::run_ir_on_libtorch,   &mc::distill::finetune,                &mc::distill::distill,
      &mc::distill::export_torchscript_file, &mc::distill::torchscript_source};
  return &e;
}
