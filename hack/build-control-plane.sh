#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok) from Go modules with the machine's Go toolchain.
#
# Binaries are cached outside the repository, keyed by version, so a second run
# is a no-op. Builds run one binary at a time: linking kube-apiserver needs a
# few GB of memory and these machines have two cores.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-3.6.4}"
KWOK_VERSION="${KWOK_VERSION:-0.7.0}"
CACHE="${KUBARR_CACHE:-$HOME/.cache/kubarr}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

# k8s.io/kubernetes replaces its staging modules with local paths, so
# `go install k8s.io/kubernetes/cmd/...@v1.x` is refused. A wrapper module that
# pins each staging module to its published v0.x release builds the commands.
STAGING="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
cloud-provider cluster-bootstrap code-generator component-base component-helpers
controller-manager cri-api cri-client csi-translation-lib
dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
mount-utils pod-security-admission sample-apiserver sample-cli-plugin
sample-controller"

staging_version="v0.${K8S_VERSION#1.}"
# One wrapper per version pair: the go.mod pins both, so a new etcd version
# must not reuse a module resolved for the old one.
wrapper="$CACHE/src/kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION"

write_wrapper() {
  mkdir -p "$wrapper"
  {
    echo "module kubarr.local/controlplane"
    echo
    echo "go 1.24.0"
    echo
    echo "require ("
    echo "	k8s.io/kubernetes v$K8S_VERSION"
    echo "	go.etcd.io/etcd/server/v3 v$ETCD_VERSION"
    echo ")"
    echo
    echo "replace ("
    for m in $STAGING; do echo "	k8s.io/$m => k8s.io/$m $staging_version"; done
    echo ")"
  } >"$wrapper/go.mod"
  cat >"$wrapper/tools.go" <<'GO'
//go:build tools

// Package tools pins the commands this module builds.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  (cd "$wrapper" && go mod tidy)
}

k8s_ldflags() {
  local pkg flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=v$K8S_VERSION"
    flags+=" -X $pkg.gitMajor=1"
    flags+=" -X $pkg.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    flags+=" -X $pkg.gitTreeState=clean"
    flags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

build() {
  local name=$1 version=$2 pkg=$3 ldflags=$4
  local out="$BIN/$name-$version"
  if [ -x "$out" ]; then
    echo "cached: $out"
    return
  fi
  [ -f "$wrapper/go.sum" ] || write_wrapper
  echo "building $name $version (one binary at a time; this takes minutes)"
  local start=$SECONDS
  (cd "$wrapper" && CGO_ENABLED=0 go build -tags selinux,notest \
    -ldflags "$ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  echo "built $name in $((SECONDS - start)) s"
}

build etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 \
  "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION"
for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
  build "$cmd" "$K8S_VERSION" "k8s.io/kubernetes/cmd/$cmd" "$(k8s_ldflags)"
done

kwok_out="$BIN/kwok-$KWOK_VERSION"
if [ -x "$kwok_out" ]; then
  echo "cached: $kwok_out"
else
  echo "building kwok $KWOK_VERSION"
  start=$SECONDS
  tmp=$(mktemp -d)
  CGO_ENABLED=0 GOBIN="$tmp" go install -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  mv "$tmp/kwok" "$kwok_out"
  rmdir "$tmp"
  echo "built kwok in $((SECONDS - start)) s"
fi
echo "control plane binaries ready in $BIN"
