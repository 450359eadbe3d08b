"""berthd's API over its unix socket, for the bench scripts: one JSON call, and a call whose
operation is waited for (`op`). A class that sets `self.sock` to the socket path mixes it in."""
import http.client
import json
import socket


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class Api:
    def call(self, method, path, body=None):
        conn = UnixHTTP(self.sock)
        conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                     headers={"content-type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        value = json.loads(data) if data else None
        if resp.status >= 400:
            raise RuntimeError(f"{method} {path}: {resp.status} {value}")
        return value

    def op(self, method, path, body=None, timeout=600):
        """The request, then the wait for its operation; the operation, or an error."""
        accepted = self.call(method, path, body)
        op = self.call("GET", f"/operations/{accepted['operation']['id']}/wait?timeout={timeout}")
        if op["status"] != "success":
            raise RuntimeError(f"{method} {path}: {op['error']}")
        return op
