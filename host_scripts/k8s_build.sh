#!/usr/bin/env bash
# Build a Kubernetes from Go modules: kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3),
# CoreDNS, and LeaderWorkerSet's controller with its CRD and webhook manifests (sigs.k8s.io/lws).
#   host_scripts/k8s_build.sh          # builds once, then reuses; prints the folder of binaries
# Binaries go to a version-stamped cache folder (~/.cache/orchestrator/k8s-<versions>/bin), so a
# warm machine skips the build. k8s.io/kubernetes's go.mod points its k8s.io/* staging modules at
# ./staging, which `go build` of the module from the proxy cannot follow: a wrapper module
# requires it and replaces each staging module with its published v0.X.Y twin.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
LWS_VERSION=${LWS_VERSION:-v0.8.0}
STAGING_VERSION=v0.${K8S_VERSION#v1.}
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

cache=${ORCHESTRATOR_CACHE:-$HOME/.cache/orchestrator}/k8s-$K8S_VERSION-etcd-$ETCD_VERSION
bin=$cache/bin
lws=$cache/lws-$LWS_VERSION  # controller, crd.yaml, webhooks.yaml
say() { echo "k8s_build.sh: $*" >&2; }

complete() {
  local name
  for name in "${COMPONENTS[@]}" etcd coredns; do [[ -x $bin/$name ]] || return 1; done
  [[ -x $lws/controller && -f $lws/crd.yaml ]]
}
if complete; then
  say "reusing $bin"
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { say "needs Go (1.24 or later) and the Go module proxy"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

wrapper_module() {  # wrapper_module NAME GO_VERSION: cd into a fresh module of our own
  mkdir "$work/$1"
  cd "$work/$1"
  printf 'module orchestrator.local/%sbuild\ngo %s\n' "$1" "$2" > go.mod
}
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# Kubernetes: the wrapper module, its replaces derived from the module's own go.mod.
if [[ ! -x $bin/kubelet || ! -x $bin/kube-apiserver ]]; then
mkdir "$work/k8s"
cd "$work/k8s"
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c \
  'import json, sys; print(json.load(sys.stdin)["GoMod"])')
{
  echo "module orchestrator.local/k8sbuild"
  echo "go 1.24"
  echo "require k8s.io/kubernetes $K8S_VERSION"
  sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/.*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
} > go.mod
say "building Kubernetes $K8S_VERSION ($(grep -c '^replace' go.mod) staging modules replaced)"
packages=()
for name in "${COMPONENTS[@]}"; do packages+=("k8s.io/kubernetes/cmd/$name"); done
# @version: a bare `go get PACKAGE` would upgrade k8s.io/kubernetes past its replaces.
go get "${packages[@]/%/@$K8S_VERSION}"
go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
  -o "$bin/" "${packages[@]}"
fi

# etcd: a three-line main around its server module's etcdmain, as etcd's own main.go is.
if [[ ! -x $bin/etcd ]]; then
wrapper_module etcd 1.24
printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' > main.go
say "building etcd $ETCD_VERSION"
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod tidy
go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .
fi

# CoreDNS: its module's root package is the coredns command (its default plugins compiled in).
if [[ ! -x $bin/coredns ]]; then
wrapper_module coredns 1.24
say "building CoreDNS $COREDNS_VERSION"
go get "github.com/coredns/coredns@$COREDNS_VERSION"
go build -trimpath -ldflags "-s -w" -o "$bin/coredns" github.com/coredns/coredns
fi

# LeaderWorkerSet: its module's manager command, and the CRD and webhooks from its config/.
if [[ ! -x $lws/controller ]]; then
wrapper_module lws 1.25
say "building LeaderWorkerSet $LWS_VERSION"
go get "sigs.k8s.io/lws/cmd@$LWS_VERSION"
mkdir -p "$lws.part"
module=$(go mod download -json "sigs.k8s.io/lws@$LWS_VERSION" | python3 -c \
  'import json, sys; print(json.load(sys.stdin)["Dir"])')
cp "$module/config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml" "$lws.part/crd.yaml"
cp "$module/config/webhook/manifests.yaml" "$lws.part/webhooks.yaml"
go build -trimpath -ldflags "-s -w" -o "$lws.part/controller" sigs.k8s.io/lws/cmd
rm -rf "$lws" && mv "$lws.part" "$lws"
fi

complete || { say "the build left no complete set of binaries in $bin"; exit 1; }
say "built into $bin"
echo "$bin"
