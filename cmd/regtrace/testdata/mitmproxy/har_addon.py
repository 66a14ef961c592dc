"""HAR 1.2 export for mitmproxy 8, shaped like the `savehar` addon that
mitmproxy 10.1 ships (mitmproxy 8.1, Debian's, has none). Written for
regtrace's end-to-end tests; not derived from mitmproxy's code.

Options:
  regtrace_har      file to write; rewritten whole after every exchange, so
                    the test can read it once the client is done
  regtrace_resolve  comma-separated host names to connect to on 127.0.0.1
                    (same port): the test registry's made-up names
"""

import base64
import json
import os
from datetime import datetime, timezone

from mitmproxy import ctx, http, version


def _pairs(multidict):
    return [{"name": k, "value": v} for k, v in multidict.items(multi=True)]


def _ms(start, end):
    if start is None or end is None:
        return -1
    return round((end - start) * 1000, 3)


def _content(message):
    raw = message.raw_content or b""
    body = message.get_content(strict=False) or b""
    out = {
        "size": len(body),
        "compression": len(body) - len(raw),
        "mimeType": message.headers.get("content-type", ""),
    }
    if not body:
        return out
    try:
        out["text"] = body.decode("utf-8")
    except UnicodeDecodeError:
        out["text"] = base64.b64encode(body).decode("ascii")
        out["encoding"] = "base64"
    return out


class RegtraceHar:
    def __init__(self):
        self.entries = []
        self.seen_servers = set()

    def load(self, loader):
        loader.add_option("regtrace_har", str, "", "HAR file to write")
        loader.add_option("regtrace_resolve", str, "", "names to connect to on 127.0.0.1")

    def server_connect(self, data):
        names = {n for n in ctx.options.regtrace_resolve.split(",") if n}
        host, port = data.server.address
        if host in names:
            # SNI and the Host header keep the name; only the dial changes.
            data.server.sni = data.server.sni or host
            data.server.address = ("127.0.0.1", port)

    def response(self, flow: http.HTTPFlow):
        self._add(flow)

    def error(self, flow: http.HTTPFlow):
        if flow.response is None:
            self._add(flow)

    def _timings(self, flow):
        req, resp, srv = flow.request, flow.response, flow.server_conn
        connect = ssl = -1
        # Connection setup counts once, on the first exchange that used it.
        if srv is not None and srv.id not in self.seen_servers and srv.timestamp_start:
            self.seen_servers.add(srv.id)
            connect = _ms(srv.timestamp_start, srv.timestamp_tcp_setup)
            ssl = _ms(srv.timestamp_tcp_setup, srv.timestamp_tls_setup)
        t = {"connect": connect, "ssl": ssl, "send": _ms(req.timestamp_start, req.timestamp_end)}
        if resp is not None:
            t["wait"] = _ms(req.timestamp_end, resp.timestamp_start)
            t["receive"] = _ms(resp.timestamp_start, resp.timestamp_end)
        else:
            t["wait"] = t["receive"] = 0
        return t

    def _add(self, flow: http.HTTPFlow):
        req, resp = flow.request, flow.response
        timings = self._timings(flow)
        request = {
            "method": req.method,
            "url": req.pretty_url,
            "httpVersion": req.http_version,
            "cookies": _pairs(req.cookies),
            "headers": _pairs(req.headers),
            "queryString": _pairs(req.query),
            "headersSize": len(bytes(req.headers)),
            "bodySize": len(req.raw_content or b""),
        }
        if req.raw_content:
            post = {"mimeType": req.headers.get("content-type", ""), "text": req.get_text(strict=False) or ""}
            if req.urlencoded_form:
                post["params"] = _pairs(req.urlencoded_form)
            request["postData"] = post
        if resp is not None:
            response = {
                "status": resp.status_code,
                "statusText": resp.reason,
                "httpVersion": resp.http_version,
                "cookies": [{"name": k, "value": v[0]} for k, v in resp.cookies.items(multi=True)],
                "headers": _pairs(resp.headers),
                "content": _content(resp),
                "redirectURL": resp.headers.get("location", ""),
                "headersSize": len(bytes(resp.headers)),
                "bodySize": len(resp.raw_content or b""),
            }
        else:
            # What savehar writes for an exchange without a response.
            response = {
                "status": 0, "statusText": "", "httpVersion": "", "headers": [], "cookies": [],
                "content": {}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
                "_transferSize": 0, "_error": flow.error.msg if flow.error else None,
            }
        entry = {
            "startedDateTime": datetime.fromtimestamp(req.timestamp_start, timezone.utc).isoformat(),
            "time": round(sum(v for v in timings.values() if v > 0), 3),
            "request": request,
            "response": response,
            "cache": {},
            "timings": timings,
        }
        if flow.server_conn is not None and flow.server_conn.peername:
            entry["serverIPAddress"] = str(flow.server_conn.peername[0])
        self.entries.append(entry)
        self._write()

    def _write(self):
        path = ctx.options.regtrace_har
        if not path:
            return
        doc = {"log": {
            "version": "1.2",
            "creator": {"name": "mitmproxy", "version": version.VERSION, "comment": "regtrace test addon (savehar format)"},
            "pages": [],
            "entries": self.entries,
        }}
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, path)


addons = [RegtraceHar()]
