// redp._ext: private compiled kernels. Python wrappers in src/redp own
// validation, allocation and documentation; nothing here accounts privacy.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace redp {
void register_knn(py::module_& m);
void register_sampling(py::module_& m);
}  // namespace redp

PYBIND11_MODULE(_ext, m) {
    m.doc() = "redp private C++ kernels (use the Python API instead)";
    redp::register_knn(m);
    redp::register_sampling(m);
}
