# Shared by scripts/*.sh: where caches live (outside the repo) and the pinned Python environment.
# shellcheck shell=bash

RMQ_CACHE=${RMQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rocketmq-pulumi}
export RMQ_CACHE

# ensure_venv DIR REQUIREMENTS: a virtualenv with exactly these pins, rebuilt when they change.
ensure_venv() {
  local dir=$1 requirements=$2 stamp
  stamp=$(cat requirements*.txt | sha256sum | cut -c1-16)
  if [[ ! -x $dir/bin/python || ! -f $dir/.pins-$stamp ]]; then
    echo "setting up $dir from $requirements" >&2
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$dir/.pins-$stamp"
  fi
}
