# Shared by scripts/dev and scripts/test (sourced, not run): installs what the local stack needs,
# starts moto (DynamoDB + KMS) and the mock WeChat, and stops everything on exit.

MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0   # pinned: new lint rules must not fail a clean clone's CI
CARGO_LAMBDA_VERSION=1.9.2   # with its zig (PyPI ziglang): builds the functions as users do
SAM_CLI_VERSION=1.170.0      # `sam validate --lint`, `sam build`
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.local/$(basename "$0")"   # logs, git-ignored: one folder per script, so a scripts/test beside a scripts/bench clobbers nothing
mkdir -p "$STATE"
PIDS=()
export WXAUTH_BIN_DIR=${WXAUTH_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}   # scripts/bench: the release build

# Credentials and region for the emulator; nothing here can reach AWS.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_EC2_METADATA_DISABLED=true

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# moto's server in a virtualenv inside the project (.venv, git-ignored), installed once.
ensure_moto() {
  if [ -x "$ROOT/.venv/bin/moto_server" ] && [ -x "$ROOT/.venv/bin/cfn-lint" ] \
    && "$ROOT/.venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
    && [ "$("$ROOT/.venv/bin/cfn-lint" --version 2>/dev/null | awk '{print $2}')" = "$CFN_LINT_VERSION" ]; then
    return
  fi
  say "installing moto[server]==$MOTO_VERSION and cfn-lint==$CFN_LINT_VERSION into .venv (once)"
  rm -rf "$ROOT/.venv"   # never build on a half-made one
  if ! python3 -m venv "$ROOT/.venv"; then
    say "python3 cannot make a virtualenv (on Debian: apt-get install python3-venv)"; return 1
  fi
  "$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION"
}

# cargo-lambda (with zig) and the SAM CLI, in a virtualenv of their own (.venv-lambda,
# git-ignored): the SAM CLI pins its own boto3 and cfn-lint, which moto's must not meet.
ensure_lambda_tools() {
  local venv="$ROOT/.venv-lambda"
  if [ "$("$venv/bin/cargo-lambda" lambda --version 2>/dev/null | awk '{print $2}')" = "$CARGO_LAMBDA_VERSION" ] \
    && [ "$("$venv/bin/sam" --version 2>/dev/null | awk '{print $4}')" = "$SAM_CLI_VERSION" ]; then
    export PATH="$venv/bin:$PATH"; return
  fi
  say "installing cargo-lambda==$CARGO_LAMBDA_VERSION and aws-sam-cli==$SAM_CLI_VERSION into .venv-lambda (once)"
  rm -rf "$venv"
  python3 -m venv "$venv" || { say "python3 cannot make a virtualenv"; return 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "cargo-lambda==$CARGO_LAMBDA_VERSION" "aws-sam-cli==$SAM_CLI_VERSION"
  export PATH="$venv/bin:$PATH"
}

# The functions' release bootstraps as `cargo lambda build --release` makes them (what
# `sam build` and `cargo lambda deploy` ship), for x86_64: these machines cannot fetch the aarch64
# standard library. In target/lambda/<function>/bootstrap.
LAMBDA_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/lambda"
build_lambdas() {
  local packages=() f
  for f in "$ROOT"/functions/*/; do packages+=(-p "$(basename "$f")"); done
  cargo lambda build --release --x86-64 --quiet "${packages[@]}" --lambda-dir "$LAMBDA_DIR"
  check_glibc_versions "$LAMBDA_DIR"/*/bootstrap
}

# Amazon Linux 2023 (provided.al2023) has glibc 2.34: no bootstrap may need a newer symbol.
AL2023_GLIBC=2.34
check_glibc_versions() {
  local binary newest
  for binary in "$@"; do
    newest=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
    if [ "$(printf '%s\n%s\n' "$newest" "$AL2023_GLIBC" | sort -V | tail -1)" != "$AL2023_GLIBC" ]; then
      say "$binary needs glibc $newest; Amazon Linux 2023 has $AL2023_GLIBC"; return 1
    fi
  done
}

wait_for_http() { # url, name, pid
  for _ in $(seq 1 150); do
    # Answering is not enough: it must be our process (not a leftover on a reused port).
    if curl -fsS -o /dev/null "$1" 2>/dev/null && sleep 0.1 && kill -0 "$3" 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then say "$2 exited; its log:"; cat "$STATE/$2.log" >&2; return 1; fi
    sleep 0.2
  done
  say "$2 did not answer at $1"; return 1
}

start_moto() { # port
  "$ROOT/.venv/bin/python" "$ROOT/scripts/moto_server.py" "$1" >"$STATE/moto.log" 2>&1 &
  PIDS+=($!)
  wait_for_http "http://127.0.0.1:$1/moto-api/data.json" moto $!
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
}

start_mock_wechat() { # port
  MOCK_WECHAT_PORT="$1" "$WXAUTH_BIN_DIR/mock-wechat" >"$STATE/mock-wechat.log" 2>&1 &
  PIDS+=($!)
  wait_for_http "http://127.0.0.1:$1/mock/health" mock-wechat $!
  export WECHAT_API_BASE="http://127.0.0.1:$1"
  # WeChat's web-authorization pages (open.weixin.qq.com) are the mock's too.
  export WECHAT_OPEN_BASE="$WECHAT_API_BASE"
}

# Scan sign-in through demo-miniprogram's confirmation page (API.md's local stack); an empty
# SCAN_LOGIN_CLIENT turns it off.
export SCAN_LOGIN_CLIENT=${SCAN_LOGIN_CLIENT-demo-miniprogram}
export SCAN_LOGIN_PAGE=${SCAN_LOGIN_PAGE-pages/scan/scan}
[ -n "$SCAN_LOGIN_CLIENT" ] || unset SCAN_LOGIN_CLIENT SCAN_LOGIN_PAGE

start_local_server() { # port
  PORT="$1" "$WXAUTH_BIN_DIR/wxauth-local" >"$STATE/local.log" 2>&1 &
  PIDS+=($!)
  wait_for_http "http://127.0.0.1:$1/.well-known/oauth-authorization-server" local-server $!
}

stop_services() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_services EXIT
trap 'exit 130' INT TERM

admin() { "$WXAUTH_BIN_DIR/wxauth-admin" "$@"; }

# `wxauth-admin init` (arguments passed on) with the back-channel logout queue on moto, which the
# local server polls as Lambda's event source mapping would, and the local server's issuer
# ($ISSUER, which every caller sets first) recorded in the table; exports
# BACKCHANNEL_LOGOUT_QUEUE_URL.
init_stack() {
  BACKCHANNEL_LOGOUT_QUEUE_URL=$(admin --json init --logout-queue "${WXAUTH_TABLE:-wxauth}-backchannel-logout" \
    --issuer "$ISSUER" "$@" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["backchannel_logout_queue_url"])')
  export BACKCHANNEL_LOGOUT_QUEUE_URL
}

# The demo clients and user of API.md's local-stack section. The local server's issuer
# ($ISSUER) must be set: demo-web's redirect URI hangs off it. Exports DEMO_SERVICE_SECRET (the
# confidential client's secret, shown once at creation).
create_demo_clients() {
  # A TV or CLI of the device flow (RFC 8628): public, the device grant and refresh tokens. Before
  # the check below, so that a stack made before it existed gets it too.
  admin client show demo-device >/dev/null 2>&1 || admin client create --id demo-device --name "Demo TV" \
    --kind public --grant urn:ietf:params:oauth:grant-type:device_code --grant refresh_token \
    --scope "openid profile" >/dev/null
  admin client show demo-miniprogram >/dev/null 2>&1 && return
  curl -fsS -o /dev/null -X POST "$WECHAT_API_BASE/mock/apps" -H 'content-type: application/json' \
    -d '{"appid":"wxdemoappid000001","secret":"demo-app-secret"}'
  WECHAT_APP_SECRET=demo-app-secret admin client create --id demo-miniprogram --name "Demo mini program" \
    --kind miniprogram --wechat-appid wxdemoappid000001 --wechat-secret-from-env --scope "openid profile phone" >/dev/null
  admin client create --id demo-web --name "Demo web app" --kind public \
    --redirect-uri "$ISSUER/demo/callback" --scope "openid profile" \
    --post-logout-redirect-uri "$ISSUER/demo/logged-out" \
    --backchannel-logout-uri "$ISSUER/demo/backchannel-logout" --backchannel-logout-session-required >/dev/null
  DEMO_SERVICE_SECRET=$(admin --json client create --id demo-service --name "Demo service" --kind confidential \
    --scope "reports:read reports:write" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
  export DEMO_SERVICE_SECRET
  WXAUTH_USER_PASSWORD=demo-password admin user create --username demo >/dev/null
  # Sign in with WeChat on the web: an Official Account (inside WeChat) and a website app (the QR
  # link on desktops), their callback domain the issuer's host, at the mock and at wxauth.
  local host; host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname)' "$ISSUER")
  local kind appid
  for kind in official-account:wxdemooa00000001 website:wxdemoweb0000001; do
    appid=${kind#*:} kind=${kind%%:*}
    curl -fsS -o /dev/null -X POST "$WECHAT_API_BASE/mock/apps" -H 'content-type: application/json' \
      -d "{\"appid\":\"$appid\",\"secret\":\"demo-$appid-secret\",\"kind\":\"$kind\",\"domain\":\"$host\"}"
    WECHAT_APP_SECRET="demo-$appid-secret" admin wechat-app add --kind "$kind" --appid "$appid" \
      --secret-from-env --domain "$host" >/dev/null
  done
}
