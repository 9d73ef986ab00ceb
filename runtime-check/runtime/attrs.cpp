#include <cstdio>

#include "runtime/plan.h"

namespace mcrt {

const fb::Attr* AttrMap::find(fb::AttrKey key) const {
  if (!node_ || !node_->attrs()) return nullptr;
  for (const fb::Attr* a : *node_->attrs())
    if (a->key() == key) return a;
  return nullptr;
}

int64_t AttrMap::i(fb::AttrKey key, int64_t def) const {
  const fb::Attr* a = find(key);
  return a ? a->i() : def;
}

float AttrMap::f(fb::AttrKey key, float def) const {
  const fb::Attr* a = find(key);
  return a ? a->f() : def;
}

std::vector<int64_t> AttrMap::ints(fb::AttrKey key) const {
  const fb::Attr* a = find(key);
  if (!a || !a->ints()) return {};
  return std::vector<int64_t>(a->ints()->begin(), a->ints()->end());
}

std::vector<float> AttrMap::floats(fb::AttrKey key) const {
  const fb::Attr* a = find(key);
  if (!a || !a->floats()) return {};
  return std::vector<float>(a->floats()->begin(), a->floats()->end());
}

std::string AttrMap::s(fb::AttrKey key, const char* def) const {
  const fb::Attr* a = find(key);
  if (!a || !a->s()) return def;
  return a->s()->str();
}

std::string node_label(const NodePlan& n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "node %d (%s)", n.index, fb::EnumNameOpType(n.op));
  return buf;
}

}  // namespace mcrt
