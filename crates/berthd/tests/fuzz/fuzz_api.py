"""Fuzzes a running berthd from its own OpenAPI description with schemathesis, once as an admin
and once as an ordinary user (each with an API token), and checks berthd still answers.

Run by tests/api_fuzz.rs inside a network namespace of its own (only loopback), so nothing the
fuzzer makes berthd do (bridges, uplinks, webhooks) leaves it. Usage:

    fuzz_api.py BASE_URL ADMIN_PASSWORD REPORT_DIR SECONDS_PER_CALLER SEED
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

# Operations that would end the fuzzer's own session or credential: logging out, revoking its
# token, deleting or demoting its account (stateful runs find real ids through links). They get
# a run of their own without links (account_ops).
ENDS_SESSION = ["auth.logout", "token.delete", "user.update", "user.delete"]
# Long polls answer when their operation ends or their `timeout` (up to 3600 s) runs out, by
# design: a generated timeout past the fuzzer's 20 s read timeout on a running operation (an
# image build that cannot reach the test's dead mirror retries for a while) is no fault. Their
# input handling is fuzzed alone (the LONG_POLLS run below), with generated ids only: none names
# a running operation, so each answers at once.
LONG_POLLS = ["operation.wait"]

# What must hold for every response: no 5xx, the status, content type, headers and body the
# description promises, 405 with Allow for undeclared methods, and auth actually enforced.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
]


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_for(base):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            status, _ = call(base, "GET", "/api/v1/openapi.json")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("berthd did not answer within 60 s")


def token_for(base, username, password, name):
    status, session = call(base, "POST", "/api/v1/auth/login",
                           {"username": username, "password": password})
    assert status == 200, (status, session)
    status, created = call(base, "POST", "/api/v1/tokens", {"name": name},
                           session["access_token"])
    assert status == 201, (status, created)
    return created["secret"]


def fuzz(base, token, who, report_dir, seconds, seed, only=None):
    st = os.path.join(os.path.dirname(sys.executable), "st")
    command = [
        st, "run", base + "/api/v1/openapi.json",
        "--url", base,
        "--header", "Authorization: Bearer " + token,
        "--checks", ",".join(CHECKS),
        "--workers", "2",
        "--max-time", str(seconds),
        "--max-examples", "25",
        "--seed", str(seed),
        "--request-timeout", "20",
        "--report", "junit,ndjson",
        "--report-dir", os.path.join(report_dir, who),
        "--output-truncate", "false",
    ]
    if only:
        # Without the stateful phase: ids come only from the generator, never from answers.
        command += ["--phases", "examples,coverage,fuzzing"]
        for operation in only:
            command += ["--include-operation-id", operation]
    else:
        for operation in ENDS_SESSION + LONG_POLLS:
            command += ["--exclude-operation-id", operation]
    started = time.time()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(f"==> schemathesis as {who}: exit {result.returncode} in {time.time() - started:.0f} s")
    print(result.stdout[-20000:])
    return result.returncode


def main():
    base, admin_password, report_dir, seconds, seed = sys.argv[1:6]
    wait_for(base)
    admin = token_for(base, "admin", admin_password, "fuzz-admin")
    user_password = "Fuzzes-All-Night-42"
    status, body = call(base, "POST", "/api/v1/users",
                        {"username": "fuzzer", "password": user_password}, admin)
    assert status == 201, (status, body)
    user = token_for(base, "fuzzer", user_password, "fuzz-user")
    # Something to find: an instance of each caller.
    for token, name in [(admin, "fz-admin"), (user, "fz-user")]:
        status, body = call(base, "POST", "/api/v1/instances",
                            {"name": name, "image": "debian/12"}, token)
        assert status == 202, (status, body)
    failed = 0
    runs = [("user", user, None), ("admin", admin, None), ("account_ops", admin, ENDS_SESSION),
            ("long_polls", admin, LONG_POLLS)]
    for who, token, only in runs:
        budget = int(seconds) if only is None else max(10, int(seconds) // 4)
        if fuzz(base, token, who, report_dir, budget, int(seed), only) != 0:
            failed += 1
    status, me = call(base, "GET", "/api/v1/auth/me", token=admin)
    print(f"==> berthd after fuzzing: GET /auth/me {status}")
    if status != 200:
        sys.exit(f"berthd does not answer as before: {status} {me}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
