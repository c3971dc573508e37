// Placeholder: replaced by the exact discrete Gaussian sampler.
#include <pybind11/pybind11.h>
namespace py = pybind11;
namespace redp {
void register_sampling(py::module_& m) { (void)m; }
}  // namespace redp
