#!/usr/bin/env bash
# RUSTC_WRAPPER for the fuzz builds (fuzz/run.sh sets it). It decides which crates get libFuzzer's
# coverage instrumentation; the code of the others still runs (every token is really signed and
# verified), only without coverage feedback and without debug assertions.
#
# Left out: the third-party cryptography crates. Instrumented, one P-256 key derivation cost more
# than the rest of a command sequence, and constant-time arithmetic gives libFuzzer nothing to
# steer by. Every other crate, ours first, is built as cargo-fuzz asks.
rustc=$1
shift
crate=
prev=
for a in "$@"; do
  if [ "$prev" = "--crate-name" ]; then crate=$a; fi
  prev=$a
done
case "$crate" in
  p256 | p384 | primeorder | primefield | elliptic_curve | ecdsa | signature | crypto_bigint | \
    fiat_crypto | rfc6979 | hmac | sha2 | sha1 | md5 | digest | argon2 | blake2 | password_hash | \
    subtle | ctutils | cmov | cpubits | ff | group | wnaf | base16ct | serdect | generic_array | \
    hybrid_array | block_buffer | crypto_common | zeroize | der | sec1 | spki | pkcs8 | const_oid | \
    base64ct | aws_lc_rs | ring | rand_core | rand_chacha | chacha20) ;;
  *) exec "$rustc" "$@" ;;
esac
args=()
for a in "$@"; do
  case "$a" in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage* | \
      -Cllvm-args=-simplifycfg-branch-fold-threshold=0 | -Cdebug-assertions) ;;
    *) args+=("$a") ;;
  esac
done
exec "$rustc" "${args[@]}"
