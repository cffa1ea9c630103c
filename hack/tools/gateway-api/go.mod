// Pins the Gateway API release whose standard-channel CRDs the local cluster installs
// (hack/build-tools.sh extracts them from the module source; nothing is built or imported, so
// `go mod tidy` would drop the requirement: edit the version and go.sum's two lines by hand).
module chitty.cc/hack/tools/gateway-api

go 1.24.0

require sigs.k8s.io/gateway-api v1.6.3
