#!/usr/bin/env bash
# Installs the system libraries gen links against (Debian packages), only if missing.
# Safe to run any number of times.
set -euo pipefail

packages=(libopenblas-dev libhdf5-dev liblzf-dev libpng-dev zlib1g-dev pkg-config openmpi-bin libopenmpi-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
