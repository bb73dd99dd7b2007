"""Soak traffic for the local stack; run by scripts/soak (which starts the stack), not by hand.

Drives mixed traffic over every route family at a steady overall rate ($RATE requests/s) from
$WORKERS threads for $DURATION seconds, checks every answer against what that request must get,
samples the server's RSS (and threads, fds, CPU) every 10 s, and prints a per-minute and
per-route report; the full per-minute data goes to $SOAK_REPORT as JSON. Exit status 1 when any
request got an unexpected 5xx, or no answer at all (refused, reset, timed out), 0 otherwise.
Python 3 standard library only.

Environment (scripts/soak sets the first group):
  SOAK_BASE            the server, http://127.0.0.1:PORT (also the issuer)
  SOAK_SERVER_PID      the wxauth-local process, for /proc/<pid>/status
  DEMO_SERVICE_SECRET  demo-service's client secret
  SOAK_PASSWORD_SECRET soak-password's client secret
  SOAK_REPORT          where the JSON report goes; SOAK_ERROR_LOG where unexpected answers go
  SOAK_MOTO_PID        moto's process (optional): its CPU per minute shows when it is the bottleneck
  RATE (8), DURATION (1800), WORKERS (8), REQUEST_TIMEOUT (60 s per request)
  SOAK_WEIGHTS         e.g. "password=0,authorization_code=0": the cycles' weights (Worker.CYCLES)
"""

import base64
import collections
import hashlib
import html
import http.client
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse

BASE = os.environ["SOAK_BASE"].rstrip("/")
ISSUER = BASE
URL = urllib.parse.urlsplit(BASE)
SERVER_PID = int(os.environ["SOAK_SERVER_PID"])
MOTO_PID = int(os.environ.get("SOAK_MOTO_PID") or 0)  # optional: is moto the bottleneck?
SERVICE_SECRET = os.environ["DEMO_SERVICE_SECRET"]
PASSWORD_SECRET = os.environ["SOAK_PASSWORD_SECRET"]
REPORT = os.environ.get("SOAK_REPORT", ".local/soak-report.json")
ERROR_LOG = os.environ.get("SOAK_ERROR_LOG", ".local/soak-errors.log")
RATE = float(os.environ.get("RATE", "8"))
DURATION = float(os.environ.get("DURATION", "1800"))
WORKERS = int(os.environ.get("WORKERS", "8"))
TIMEOUT = float(os.environ.get("REQUEST_TIMEOUT", "60"))
MINUTE = 60.0
RSS_EVERY = 10.0
POOL = 5  # live refresh tokens kept per worker
CLK_TCK = os.sysconf("SC_CLK_TCK")

MINIPROGRAM = "demo-miniprogram"
WEB = "demo-web"
REDIRECT_URI = f"{ISSUER}/demo/callback"
APPID = "wxdemoappid000001"


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def basic(client_id, secret):
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class Stop(Exception):
    """The deadline has passed: the worker ends its cycle."""


# ---------------------------------------------------------------------------------------------
# Pacing and statistics


class Pacer:
    """One request slot every 1/RATE s, shared by all workers. A worker that is late takes the
    next slot at once, but the debt is capped at one second: a slow server lowers the achieved
    rate (reported) instead of getting a burst afterwards."""

    def __init__(self, rate, start, deadline):
        self.interval = 1.0 / rate
        self.next = start
        self.deadline = deadline
        self.lock = threading.Lock()

    def acquire(self):
        with self.lock:
            now = time.monotonic()
            slot = max(self.next, now - 1.0)
            if max(slot, now) >= self.deadline:  # no request starts after the deadline
                raise Stop
            self.next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class Stats:
    def __init__(self, start):
        self.start = start
        self.lock = threading.Lock()
        # minute index (0-based) -> route -> {"lat": [ms], "statuses": Counter}
        self.minutes = collections.defaultdict(
            lambda: collections.defaultdict(lambda: {"lat": [], "statuses": collections.Counter()})
        )
        self.unexpected = collections.Counter()  # minute -> count
        self.fives = collections.Counter()  # minute -> count of unexpected 5xx
        self.transport = collections.Counter()  # minute -> requests without an answer
        self.kinds = collections.Counter()  # (route, status, reason) -> count
        self.samples = {}  # (route, status, reason) -> first body
        self.log = open(ERROR_LOG, "w", buffering=1)

    def record(self, route, started, ms, status, problem, body):
        minute = int((started - self.start) // MINUTE)
        with self.lock:
            r = self.minutes[minute][route]
            r["lat"].append(ms)
            r["statuses"][str(status)] += 1
            if problem is None:
                return
            self.unexpected[minute] += 1
            if status == 0:
                self.transport[minute] += 1
            elif status >= 500:
                self.fives[minute] += 1
            key = (route, status, problem)
            self.kinds[key] += 1
            self.samples.setdefault(key, body[:200])
            stamp = time.strftime("%H:%M:%S", time.localtime(time.time()))
            self.log.write(
                f"{stamp} minute={minute + 1} {route} status={status} ({problem}) {ms:.0f} ms: {body[:200]!r}\n"
            )


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # nearest rank
    return sorted_values[int(rank) - 1]


def summary(lat, statuses):
    s = sorted(lat)
    return {
        "count": len(s),
        "p50_ms": round(percentile(s, 50), 1) if s else None,
        "p99_ms": round(percentile(s, 99), 1) if s else None,
        "max_ms": round(s[-1], 1) if s else None,
        "statuses": dict(sorted(statuses.items())),
    }


# ---------------------------------------------------------------------------------------------
# The server process


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def proc_sample():
    """RSS (kB), threads and open fds of the server, and its CPU seconds (and moto's); None if
    the server is gone."""
    try:
        with open(f"/proc/{SERVER_PID}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        cpu = cpu_seconds(SERVER_PID)
        fds = len(os.listdir(f"/proc/{SERVER_PID}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    sample = {"rss_kb": int(status["VmRSS"].split()[0]), "threads": int(status["Threads"]), "fds": fds, "cpu_s": cpu}
    if MOTO_PID:
        try:
            sample["moto_cpu_s"] = cpu_seconds(MOTO_PID)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return sample


def sampler(start, end, samples, stop):
    t = start
    while True:
        s = proc_sample()
        samples.append({"t": round(time.monotonic() - start, 1), **(s or {"gone": True})})
        t += RSS_EVERY
        if t > end or stop.wait(max(0.0, t - time.monotonic())):
            break
    s = proc_sample()
    samples.append({"t": round(time.monotonic() - start, 1), **(s or {"gone": True})})


# ---------------------------------------------------------------------------------------------
# One worker: its own users, tokens and counters, so that no two workers share a refresh token
# or a WeChat user (a rotated token presented twice would revoke its family: a real error).


class Worker:
    def __init__(self, n, pacer, stats):
        self.n = n
        self.pacer = pacer
        self.stats = stats
        self.rng = random.Random(f"soak-{n}-{time.time()}")
        self.seq = 0
        self.users = []  # names whose first login happened: returning logins use "~<n>"
        self.refresh = []  # (client_id, secret or None, refresh_token), at most POOL
        self.mp_access = None  # a mini-program access token (for userinfo and /wechat/*)
        self.service = None  # (access token, monotonic time it was issued) of demo-service

    def unique(self):
        self.seq += 1
        return f"{self.n}-{self.seq}-{self.rng.randrange(1 << 30):x}"

    # -- HTTP ------------------------------------------------------------------------------

    def call(self, route, method, path, expect, form=None, body=None, headers=None):
        """One paced request; `expect(status, text, headers)` answers None or what is wrong.
        Returns (status, text, headers, ok)."""
        self.pacer.acquire()
        hdrs = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        started = time.monotonic()
        conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            res = conn.getresponse()
            text = res.read().decode("utf-8", "replace")
            status, rheaders = res.status, res.headers
        except Exception as e:  # refused, reset, timed out: the worst outcome
            status, text, rheaders = 0, f"{type(e).__name__}: {e}", None
        finally:
            conn.close()
        ms = (time.monotonic() - started) * 1000
        if status == 0:
            problem = "no answer"
        elif status >= 500:
            problem = "5xx"
        else:
            try:
                problem = expect(status, text, rheaders)
            except Exception as e:  # an answer the check could not even read
                problem = f"unreadable answer ({type(e).__name__}: {e})"
        self.stats.record(route, started, ms, status, problem, text)
        return status, text, rheaders, problem is None

    # -- expectations ----------------------------------------------------------------------

    @staticmethod
    def ok_json(*required):
        def check(status, text, _headers):
            if status != 200:
                return f"expected 200, got {status}"
            doc = json.loads(text)
            missing = [k for k in required if k not in doc]
            return f"200 without {missing}" if missing else None

        return check

    @staticmethod
    def error(status_wanted, code):
        def check(status, text, _headers):
            if status != status_wanted:
                return f"expected {status_wanted} {code}, got {status}"
            got = json.loads(text).get("error")
            return None if got == code else f"expected error {code}, got {got}"

        return check

    # -- token helpers ---------------------------------------------------------------------

    def keep(self, client_id, secret, tokens):
        rt = tokens.get("refresh_token")
        if rt:
            self.refresh.append((client_id, secret, rt))
            if len(self.refresh) > POOL:
                self.refresh.pop(0)  # still live on the server; just no longer used here
        if client_id == MINIPROGRAM:
            self.mp_access = tokens["access_token"]

    def client_auth(self, client_id, secret, form):
        if secret is None:
            form["client_id"] = client_id
            return {}
        return {"Authorization": basic(client_id, secret)}

    # -- cycles: each a few requests of one route family -----------------------------------

    def wechat_login(self):
        returning = self.users and self.rng.random() < 0.6
        if returning:
            name = self.rng.choice(self.users)
            code, route = f"ok-{name}~{self.unique()}", "POST /oauth/token wechat-code (returning)"
        else:
            name = f"soak{self.unique()}"
            code, route = f"ok-{name}", "POST /oauth/token wechat-code (new user)"
        status, text, _, ok = self.call(
            route, "POST", "/oauth/token", self.ok_json("access_token", "refresh_token", "id_token", "openid"),
            form={"grant_type": "urn:wxauth:grant-type:wechat-code", "client_id": MINIPROGRAM, "code": code},
        )
        if ok:
            if not returning:
                self.users.append(name)
            self.keep(MINIPROGRAM, None, json.loads(text))
        return ok

    def wechat_login_bad(self):
        # WeChat's "invalid code" (40029), every time: invalid_grant.
        self.call(
            "POST /oauth/token wechat-code (err-40029)", "POST", "/oauth/token", self.error(400, "invalid_grant"),
            form={"grant_type": "urn:wxauth:grant-type:wechat-code", "client_id": MINIPROGRAM, "code": "err-40029"},
        )

    def rotate(self):
        if not self.refresh:
            return self.wechat_login()
        client_id, secret, rt = self.refresh.pop(self.rng.randrange(len(self.refresh)))
        form = {"grant_type": "refresh_token", "refresh_token": rt}
        headers = self.client_auth(client_id, secret, form)
        status, text, _, ok = self.call(
            f"POST /oauth/token refresh_token ({client_id})", "POST", "/oauth/token",
            self.ok_json("access_token", "refresh_token"), form=form, headers=headers,
        )
        if ok:
            self.keep(client_id, secret, json.loads(text))

    def client_credentials(self):
        status, text, _, ok = self.call(
            "POST /oauth/token client_credentials", "POST", "/oauth/token", self.ok_json("access_token"),
            form={"grant_type": "client_credentials"}, headers={"Authorization": basic("demo-service", SERVICE_SECRET)},
        )
        if ok:
            self.service = (json.loads(text)["access_token"], time.monotonic())
        return ok

    def password(self):
        status, text, _, ok = self.call(
            "POST /oauth/token password", "POST", "/oauth/token",
            self.ok_json("access_token", "refresh_token", "id_token"),
            form={"grant_type": "password", "username": "demo", "password": "demo-password", "scope": "openid profile"},
            headers={"Authorization": basic("soak-password", PASSWORD_SECRET)},
        )
        if ok:
            self.keep("soak-password", PASSWORD_SECRET, json.loads(text))

    def password_wrong(self):
        # Never `demo` (its lockout would refuse the right password later): made-up usernames,
        # a few per worker, so some of them get locked too. Same answer either way.
        self.call(
            "POST /oauth/token password (wrong)", "POST", "/oauth/token", self.error(400, "invalid_grant"),
            form={"grant_type": "password", "username": f"soak-ghost-{self.n}-{self.rng.randrange(4)}",
                  "password": "not-the-password", "scope": "openid"},
            headers={"Authorization": basic("soak-password", PASSWORD_SECRET)},
        )

    def authorization_code(self):
        verifier = b64url(os.urandom(48))
        state = b64url(os.urandom(16))
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": WEB, "redirect_uri": REDIRECT_URI, "scope": "openid profile",
            "state": state, "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256", "nonce": b64url(os.urandom(12)),
        })
        page = {}

        def sign_in_page(status, text, headers):
            if status != 200:
                return f"expected 200, got {status}"
            for name in ("request_id", "csrf_token"):
                m = re.search(rf'name="{name}" value="([^"]*)"', text)
                if not m:
                    return f"no {name} in the page"
                page[name] = html.unescape(m.group(1))
            cookies = [c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []]
            csrf = [c for c in cookies if c.startswith("wxauth_csrf=")]
            if not csrf:
                return "no wxauth_csrf cookie"
            page["cookie"] = csrf[0]
            return None

        _, _, _, ok = self.call("GET /oauth/authorize", "GET", f"/oauth/authorize?{query}", sign_in_page)
        if not ok:
            return
        redirect = {}

        def approved(status, _text, headers):
            if status != 302:
                return f"expected 302, got {status}"
            loc = urllib.parse.urlsplit(headers.get("Location", ""))
            q = dict(urllib.parse.parse_qsl(loc.query))
            if f"{loc.scheme}://{loc.netloc}{loc.path}" != REDIRECT_URI:
                return f"302 to {headers.get('Location')!r}"
            if q.get("state") != state or q.get("iss") != ISSUER or not q.get("code"):
                return f"302 with {sorted(q)} (state/iss/code wrong or missing)"
            redirect["code"] = q["code"]
            return None

        _, _, _, ok = self.call(
            "POST /oauth/authorize", "POST", "/oauth/authorize", approved,
            form={"request_id": page["request_id"], "csrf_token": page["csrf_token"], "username": "demo",
                  "password": "demo-password", "decision": "approve"},
            headers={"Cookie": page["cookie"]},
        )
        if not ok:
            return
        _, text, _, ok = self.call(
            "POST /oauth/token authorization_code", "POST", "/oauth/token",
            self.ok_json("access_token", "refresh_token", "id_token"),
            form={"grant_type": "authorization_code", "client_id": WEB, "code": redirect["code"],
                  "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        )
        if ok:
            self.keep(WEB, None, json.loads(text))

    def revoke(self):
        # A mini program's refresh token: revoked, then refused.
        mine = [i for i, t in enumerate(self.refresh) if t[0] == MINIPROGRAM]
        if not mine:
            return self.wechat_login()
        _, _, rt = self.refresh.pop(self.rng.choice(mine))
        _, _, _, ok = self.call(
            "POST /oauth/revoke", "POST", "/oauth/revoke", self.ok_status(200),
            form={"token": rt, "token_type_hint": "refresh_token", "client_id": MINIPROGRAM},
        )
        if ok:
            self.call(
                "POST /oauth/token refresh_token (revoked)", "POST", "/oauth/token", self.error(400, "invalid_grant"),
                form={"grant_type": "refresh_token", "refresh_token": rt, "client_id": MINIPROGRAM},
            )

    def revoke_access(self):
        # A mini program's access token on the deny list: userinfo refuses it. The worker then
        # needs another access token: a fresh login.
        if not self.mp_access and not self.wechat_login():
            return
        token, self.mp_access = self.mp_access, None
        _, _, _, ok = self.call(
            "POST /oauth/revoke (access token)", "POST", "/oauth/revoke", self.ok_status(200),
            form={"token": token, "token_type_hint": "access_token", "client_id": MINIPROGRAM},
        )
        if ok:
            self.call(
                "GET /userinfo (revoked)", "GET", "/userinfo", self.unauthorized,
                headers={"Authorization": f"Bearer {token}"},
            )

    @staticmethod
    def unauthorized(status, _text, headers):
        if status != 401:
            return f"expected 401 invalid_token, got {status}"
        www = headers.get("WWW-Authenticate", "")
        return None if 'error="invalid_token"' in www else f"401 with WWW-Authenticate {www!r}"

    @staticmethod
    def ok_status(wanted):
        return lambda status, _text, _headers: None if status == wanted else f"expected {wanted}, got {status}"

    def introspect(self):
        if not self.service or time.monotonic() - self.service[1] > 300:
            if not self.client_credentials():
                return

        def active(status, text, _headers):
            if status != 200:
                return f"expected 200, got {status}"
            doc = json.loads(text)
            return None if doc.get("active") is True and doc.get("client_id") == "demo-service" else "not active"

        self.call(
            "POST /oauth/introspect", "POST", "/oauth/introspect", active, form={"token": self.service[0]},
            headers={"Authorization": basic("demo-service", SERVICE_SECRET)},
        )

    def mini_program_token(self):
        return self.mp_access or (self.wechat_login() and self.mp_access)

    def userinfo(self):
        token = self.mini_program_token()
        if token:
            self.call("GET /userinfo", "GET", "/userinfo", self.ok_json("sub", "openid"),
                      headers={"Authorization": f"Bearer {token}"})

    def jwks(self):
        def keys(status, text, _headers):
            if status != 200:
                return f"expected 200, got {status}"
            return None if json.loads(text).get("keys") else "no keys"

        self.call("GET /.well-known/jwks.json", "GET", "/.well-known/jwks.json", keys)

    def discovery(self):
        def doc(status, text, _headers):
            if status != 200:
                return f"expected 200, got {status}"
            return None if json.loads(text).get("issuer") == ISSUER else "issuer differs"

        self.call("GET /.well-known/openid-configuration", "GET", "/.well-known/openid-configuration", doc)

    def wechat_session(self):
        token = self.mini_program_token()
        if not token:
            return

        def valid(status, text, _headers):
            if status != 200:
                return f"expected 200, got {status}"
            # The stored key is the one of the user's latest login, which the mock also holds.
            return None if json.loads(text).get("valid") is True else "valid is not true"

        self.call("GET /wechat/session", "GET", "/wechat/session", valid, headers={"Authorization": f"Bearer {token}"})

    def wechat_decrypt(self):
        # Well-formed data under a key that is not the user's: the one stale-key answer. (Valid
        # data would need AES, which the standard library lacks.)
        token = self.mini_program_token()
        if token:
            self.call(
                "POST /wechat/decrypt (wrong key)", "POST", "/wechat/decrypt", self.error(400, "invalid_session_key"),
                body={"encrypted_data": base64.b64encode(os.urandom(48)).decode(),
                      "iv": base64.b64encode(os.urandom(16)).decode()},
                headers={"Authorization": f"Bearer {token}"},
            )

    def wechat_phone(self):
        token = self.mini_program_token()
        if not token:
            return
        self.seq += 1
        digits = f"139{self.n % 100:02d}{self.seq % 1000000:06d}"  # a phone code works once

        def phone(status, text, _headers):
            if status != 200:
                return f"expected 200, got {status}"
            return None if json.loads(text).get("pure_phone_number") == digits else "another number"

        self.call("POST /wechat/phone", "POST", "/wechat/phone", phone, body={"code": f"phone-{digits}"},
                  headers={"Authorization": f"Bearer {token}"})

    # Relative weights of the cycles (a cycle is 1 to 3 requests).
    CYCLES = [
        ("wechat_login", 12), ("wechat_login_bad", 1), ("rotate", 14), ("client_credentials", 3),
        ("password", 3), ("password_wrong", 1), ("authorization_code", 3), ("revoke", 2),
        ("revoke_access", 1), ("introspect", 5), ("userinfo", 8), ("jwks", 5), ("discovery", 5),
        ("wechat_session", 5), ("wechat_decrypt", 4), ("wechat_phone", 3),
    ]

    def run(self):
        names = list(WEIGHTS)
        weights = [WEIGHTS[n] for n in names]
        try:
            while True:
                getattr(self, self.rng.choices(names, weights)[0])()
        except Stop:
            pass


# ---------------------------------------------------------------------------------------------


def weights():
    """Worker.CYCLES, with SOAK_WEIGHTS ("password=0,jwks=10") applied."""
    w = dict(Worker.CYCLES)
    for item in filter(None, os.environ.get("SOAK_WEIGHTS", "").replace(" ", "").split(",")):
        name, _, value = item.partition("=")
        if name not in w or not value.isdigit():
            sys.exit(f"soak: SOAK_WEIGHTS: {item!r}: want NAME=INTEGER, NAME one of {', '.join(w)}")
        w[name] = int(value)
    if not any(w.values()):
        sys.exit("soak: SOAK_WEIGHTS leaves nothing to do")
    return w


WEIGHTS = weights()


def main():
    start = time.monotonic()
    deadline = start + DURATION
    stats = Stats(start)
    pacer = Pacer(RATE, start, deadline)
    samples, stop = [], threading.Event()
    rss_thread = threading.Thread(target=sampler, args=(start, deadline, samples, stop), daemon=True)
    rss_thread.start()
    workers = [threading.Thread(target=Worker(i, pacer, stats).run, daemon=True) for i in range(WORKERS)]
    print(f"soak: {RATE:g} requests/s from {WORKERS} workers for {DURATION:g} s against {BASE} "
          f"(server pid {SERVER_PID}); unexpected answers go to {ERROR_LOG}", flush=True)
    for w in workers:
        w.start()
    # Progress once a minute, so a long run shows it is alive.
    next_progress = start + MINUTE
    while any(w.is_alive() for w in workers):
        if time.monotonic() > deadline + TIMEOUT + 10:
            print("soak: workers still busy long after the deadline; reporting without them", flush=True)
            break
        time.sleep(0.5)
        if time.monotonic() >= next_progress:
            m = int((next_progress - start) // MINUTE) - 1
            with stats.lock:
                n = sum(len(r["lat"]) for r in stats.minutes[m].values())
                bad = stats.unexpected[m]
            last = samples[-1] if samples else {}
            print(f"soak: minute {m + 1}: {n} requests, {bad} unexpected, "
                  f"RSS {last.get('rss_kb', 0) / 1024:.1f} MB", flush=True)
            next_progress += MINUTE
    ended = time.monotonic()
    stop.set()
    rss_thread.join(5)
    return report(stats, samples, ended - start)


def report(stats, samples, elapsed):
    with stats.lock:
        minutes_seen = sorted(stats.minutes)
        n_minutes = max(int(-(-DURATION // MINUTE)), (minutes_seen[-1] + 1) if minutes_seen else 0)
        per_minute = []
        totals = collections.defaultdict(lambda: {"lat": [], "statuses": collections.Counter()})
        for m in range(n_minutes):
            routes = stats.minutes.get(m, {})
            for route, r in routes.items():
                totals[route]["lat"].extend(r["lat"])
                totals[route]["statuses"].update(r["statuses"])
            window = [s for s in samples if m * MINUTE <= s["t"] < (m + 1) * MINUTE and "rss_kb" in s]
            last = window[-1] if window else {}
            before = ([s for s in samples if s["t"] < m * MINUTE and "rss_kb" in s] or samples[:1] or [{}])[-1]
            summaries = {route: summary(r["lat"], r["statuses"]) for route, r in sorted(routes.items())}
            requests = sum(s["count"] for s in summaries.values())
            seconds = min(MINUTE, DURATION - m * MINUTE)
            per_minute.append({
                "minute": m + 1,
                "requests": requests,
                "rate": round(requests / seconds, 2) if seconds > 0 else None,
                "unexpected": stats.unexpected[m],
                "unexpected_5xx": stats.fives[m],
                "no_answer": stats.transport[m],
                "rss_kb": last.get("rss_kb"),
                "rss_max_kb": max((s["rss_kb"] for s in window), default=None),
                "threads": last.get("threads"),
                "fds": last.get("fds"),
                "server_cpu_s": last.get("cpu_s"),
                # between the last samples of the previous minute and this one
                "server_cpu_ms_per_request": round((last["cpu_s"] - before["cpu_s"]) * 1000 / requests, 2)
                if requests and "cpu_s" in last and "cpu_s" in before else None,
                "moto_cpu_pct": round(100 * (last["moto_cpu_s"] - before["moto_cpu_s"]) / (last["t"] - before["t"]))
                if "moto_cpu_s" in last and "moto_cpu_s" in before and last["t"] > before["t"] else None,
                "routes": summaries,
            })
        route_totals = {route: summary(r["lat"], r["statuses"]) for route, r in sorted(totals.items())}
        kinds = [{"route": k[0], "status": k[1], "problem": k[2], "count": c, "first_body": stats.samples[k]}
                 for k, c in stats.kinds.most_common()]
        total_5xx, total_none = sum(stats.fives.values()), sum(stats.transport.values())
        total_unexpected = sum(stats.unexpected.values())

    total = sum(m["requests"] for m in per_minute)
    achieved = total / elapsed if elapsed else 0.0
    rss = [m["rss_kb"] for m in per_minute if m["rss_kb"]]
    growth = (rss[-1] - rss[0]) if len(rss) >= 2 else None
    final = samples[-1] if samples else {}
    doc = {
        "config": {"rate": RATE, "duration_s": DURATION, "workers": WORKERS, "base": BASE, "server_pid": SERVER_PID},
        "elapsed_s": round(elapsed, 1),
        "requests": total,
        "achieved_rate": round(achieved, 2),
        "unexpected": total_unexpected,
        "unexpected_5xx": total_5xx,
        "no_answer": total_none,
        "rss_growth_kb_minute1_to_last": growth,
        "server_gone_at_end": "gone" in final,
        "minutes": per_minute,
        "routes": route_totals,
        "unexpected_kinds": kinds,
        "process_samples": samples,
    }
    with open(REPORT, "w") as f:
        json.dump(doc, f, indent=1)

    out = sys.stdout
    print(f"\n== soak report: {total} requests in {elapsed:.0f} s, achieved {achieved:.2f}/s "
          f"of {RATE:g}/s target ({100 * achieved / RATE:.0f}%)", file=out)
    print(f"{'min':>3} {'reqs':>5} {'req/s':>6} {'unexp':>5} {'5xx':>4} {'RSS MB':>7} {'fds':>4} {'thr':>4} "
          f"{'cpu ms/req':>10} {'moto cpu':>8}  slowest route (p50 / p99 ms)", file=out)
    for m in per_minute:
        slowest = max(m["routes"].items(), key=lambda kv: kv[1]["p99_ms"] or 0, default=None)
        slow = f"{slowest[0]} ({slowest[1]['p50_ms']:.0f} / {slowest[1]['p99_ms']:.0f})" if slowest else "-"
        rss_mb = f"{m['rss_kb'] / 1024:.1f}" if m["rss_kb"] else "-"
        per_req = "-" if m["server_cpu_ms_per_request"] is None else f"{m['server_cpu_ms_per_request']:.1f}"
        moto = "-" if m["moto_cpu_pct"] is None else f"{m['moto_cpu_pct']}%"
        behind = " (behind the target rate)" if m["rate"] is not None and m["rate"] < 0.9 * RATE else ""
        print(f"{m['minute']:>3} {m['requests']:>5} {m['rate'] or 0:>6.2f} {m['unexpected']:>5} "
              f"{m['unexpected_5xx']:>4} {rss_mb:>7} {m['fds'] or '-':>4} {m['threads'] or '-':>4} {per_req:>10} "
              f"{moto:>8}  {slow}{behind}", file=out)
    print(f"\n{'route':<52} {'count':>6} {'p50':>7} {'p99':>7} {'max':>7}  statuses", file=out)
    for route, s in route_totals.items():
        statuses = " ".join(f"{k}:{v}" for k, v in s["statuses"].items())
        print(f"{route:<52} {s['count']:>6} {s['p50_ms']:>7.1f} {s['p99_ms']:>7.1f} {s['max_ms']:>7.1f}  {statuses}",
              file=out)
    print(f"\nunexpected answers: {total_unexpected} (5xx: {total_5xx}, no answer: {total_none})", file=out)
    for k in kinds[:10]:
        print(f"  {k['count']:>5} x {k['route']} -> {k['status']} ({k['problem']}): {k['first_body']!r}", file=out)
    if rss:
        print(f"server RSS: minute 1 {rss[0] / 1024:.1f} MB, minute {len(rss)} {rss[-1] / 1024:.1f} MB "
              f"(growth after warm-up {growth / 1024 if growth is not None else 0:+.1f} MB)", file=out)
    if "gone" in final:
        print("the server process is GONE", file=out)
    print(f"full data: {REPORT}", file=out)
    return 1 if total_5xx or total_none or "gone" in final else 0


if __name__ == "__main__":
    sys.exit(main())
