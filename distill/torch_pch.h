// The precompiled header of distill/ (target_precompile_headers): LibTorch's headers
// are most of the compile time of every translation unit here. Only distill/ sees it.
#pragma once
#include <torch/script.h>
#include <torch/torch.h>
