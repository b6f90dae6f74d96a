#!/usr/bin/env bash
# Installs (or uninstalls) wasmcell for C and C++ users. Run by `make install`
# and `make uninstall`, which pass the settings below in the environment.
#
#   packaging/install.sh install     copy the libraries, headers, pkg-config
#                                    file and CMake package into DESTDIR+PREFIX
#   packaging/install.sh uninstall   remove exactly those files
#   packaging/install.sh list        print them (one path a line, DESTDIR included)
#
# Settings: VERSION (X.Y.Z, from Cargo.toml: the Makefile parses it), PREFIX
# (absolute, default /usr/local), LIBDIR and INCLUDEDIR (absolute, inside
# PREFIX; default PREFIX/lib and PREFIX/include), DESTDIR (staging root,
# default none), LIB_DIR (where the built libraries are, default
# target/release), STATIC_LIBS (system libraries of the static library).
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-}
say() { printf '%s: %s\n' "${action:-install.sh}" "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }

VERSION=${VERSION:-}
PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
DESTDIR=${DESTDIR:-}
LIB_DIR=${LIB_DIR:-target/release}
STATIC_LIBS=${STATIC_LIBS:--lpthread -ldl -lm}

[[ $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] ||
  die "VERSION '$VERSION' is not MAJOR.MINOR.PATCH (the Makefile reads it from Cargo.toml)"
major=${BASH_REMATCH[1]}
[[ $PREFIX == /* ]] || die "PREFIX must be an absolute path (got '$PREFIX')"
case "$LIBDIR/" in "$PREFIX"/?*) ;; *) die "LIBDIR ($LIBDIR) must be inside PREFIX ($PREFIX)" ;; esac
case "$INCLUDEDIR/" in "$PREFIX"/?*) ;; *) die "INCLUDEDIR ($INCLUDEDIR) must be inside PREFIX ($PREFIX)" ;; esac
libdir_rel=${LIBDIR#"$PREFIX"/}
libdir_rel=${libdir_rel%/}
includedir_rel=${INCLUDEDIR#"$PREFIX"/}
includedir_rel=${includedir_rel%/}
cmakedir=$LIBDIR/cmake/wasmcell
# From lib/cmake/wasmcell back up to PREFIX: one ".." per directory.
prefix_from_cmakedir=$(printf '%s/cmake/wasmcell' "$libdir_rel" | sed 's|[^/][^/]*|..|g')

real=libwasmcell.so.$VERSION
soname=libwasmcell.so.$major

# Everything install creates, in the order uninstall removes it.
files=(
  "$LIBDIR/libwasmcell.so"
  "$LIBDIR/$soname"
  "$LIBDIR/$real"
  "$LIBDIR/libwasmcell.a"
  "$INCLUDEDIR/wasmcell.h"
  "$INCLUDEDIR/wasmcell.hpp"
  "$LIBDIR/pkgconfig/wasmcell.pc"
  "$cmakedir/wasmcellConfig.cmake"
  "$cmakedir/wasmcellConfigVersion.cmake"
)

# Fills a template from packaging/.
render() {
  local cmake_libs=${STATIC_LIBS//-l/}
  cmake_libs=$(printf '%s' "$cmake_libs" | tr -s ' ' ';')
  sed -e "s|@VERSION@|$VERSION|g" \
      -e "s|@VERSION_MAJOR@|$major|g" \
      -e "s|@PREFIX@|$PREFIX|g" \
      -e "s|@LIBDIR_REL@|$libdir_rel|g" \
      -e "s|@INCLUDEDIR_REL@|$includedir_rel|g" \
      -e "s|@PREFIX_FROM_CMAKEDIR@|$prefix_from_cmakedir|g" \
      -e "s|@STATIC_LIBS_CMAKE@|$cmake_libs|g" \
      -e "s|@STATIC_LIBS@|$STATIC_LIBS|g" \
      -e "s|@SIZEOF_VOID_P@|$sizeof_void_p|g" \
      "packaging/$1"
}

case $action in
list)
  for f in "${files[@]}"; do printf '%s\n' "$DESTDIR$f"; done
  ;;

install)
  shared=$LIB_DIR/libwasmcell.so
  static=$LIB_DIR/libwasmcell.a
  for f in "$shared" "$static" include/wasmcell.h include/wasmcell.hpp; do
    [[ -f $f ]] || die "$f is missing: build the library first ('make lib')"
  done
  # The shared library must carry the SONAME hosts will record (build.rs sets it).
  if command -v readelf >/dev/null 2>&1; then
    got=$(readelf -d "$shared" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [[ $got == "$soname" ]] ||
      die "$shared has SONAME '${got:-none}', expected '$soname': it was built before build.rs set it, rebuild it ('make lib')"
  else
    say "note: no readelf (binutils), SONAME of $shared not checked"
  fi
  # Pointer size of the library (ELF class byte: 1 = 32-bit, 2 = 64-bit).
  case $(od -An -tu1 -j4 -N1 "$shared" | tr -d ' ') in
    1) sizeof_void_p=4 ;;
    2) sizeof_void_p=8 ;;
    *) die "$shared is not an ELF library" ;;
  esac

  install -d "$DESTDIR$LIBDIR" "$DESTDIR$INCLUDEDIR" "$DESTDIR$LIBDIR/pkgconfig" "$DESTDIR$cmakedir"
  install -m 0755 "$shared" "$DESTDIR$LIBDIR/$real"
  ln -sfn "$real" "$DESTDIR$LIBDIR/$soname"
  ln -sfn "$soname" "$DESTDIR$LIBDIR/libwasmcell.so"
  install -m 0644 "$static" "$DESTDIR$LIBDIR/libwasmcell.a"
  install -m 0644 include/wasmcell.h include/wasmcell.hpp "$DESTDIR$INCLUDEDIR/"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  render wasmcell.pc.in >"$tmp/wasmcell.pc"
  render wasmcellConfig.cmake.in >"$tmp/wasmcellConfig.cmake"
  render wasmcellConfigVersion.cmake.in >"$tmp/wasmcellConfigVersion.cmake"
  install -m 0644 "$tmp/wasmcell.pc" "$DESTDIR$LIBDIR/pkgconfig/wasmcell.pc"
  install -m 0644 "$tmp/wasmcellConfig.cmake" "$tmp/wasmcellConfigVersion.cmake" "$DESTDIR$cmakedir/"
  for f in "${files[@]}"; do say "$DESTDIR$f"; done
  if [[ -z $DESTDIR ]] && command -v ldconfig >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    case $LIBDIR in /usr/lib | /usr/local/lib | /lib | /usr/lib/* ) ldconfig || true ;; esac
  fi
  ;;

uninstall)
  for f in "${files[@]}"; do
    if [[ -e $DESTDIR$f || -L $DESTDIR$f ]]; then
      rm -f "$DESTDIR$f"
      say "removed $DESTDIR$f"
    fi
  done
  # wasmcell's own directory; the shared ones (lib/pkgconfig, lib/cmake,
  # include) stay.
  [[ -d $DESTDIR$cmakedir ]] && rmdir "$DESTDIR$cmakedir" 2>/dev/null || true
  ;;

*)
  die "usage: packaging/install.sh install|uninstall|list"
  ;;
esac
