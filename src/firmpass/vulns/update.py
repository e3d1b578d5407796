"""`firmpass db update`: online refresh of NVD and ENISA EUVD (incremental), CISA KEV and FIRST EPSS.

Only this command touches the network (a scan never does).  NVD CVE API 2.0 is paged with
startIndex/resultsPerPage and filtered with lastModStartDate/lastModEndDate (at most 120 days per
request window, as the API requires).  After every page the cursor (window and next startIndex) is
saved in the store, so an interrupted update resumes where it stopped.  Failed requests are retried
with exponential backoff; HTTP 403/429/5xx are retried, other 4xx are not.
"""
from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Callable

from firmpass.errors import FirmpassError
from firmpass.vulns import feeds
from firmpass.vulns.feeds import epss, euvd, kev, nvd
from firmpass.vulns.feeds.common import count_vulns
from firmpass.vulns.store import Store

# each feed's address is written once, in its module (vulns/feeds/<name>.py)
NVD_URL, KEV_URL, EPSS_URL, EUVD_URL = nvd.UPDATE_URL, kev.UPDATE_URL, epss.UPDATE_URL, euvd.UPDATE_URL
EUVD_WINDOW = timedelta(days=7)  # a week of EUVD updates is a few thousand records: a few dozen pages
EUVD_PAGE = 100  # the largest page the EUVD search API serves
EUVD_FIRST = timedelta(days=120)  # a first update reaches this far back; older history comes from a dump (db import)
MAX_WINDOW = timedelta(days=120)
PAGE = 2000


def _fmt(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def fetch(url: str, retries: int = 5, backoff: float = 2.0, timeout: float = 60.0, api_key: str | None = None,
          sleep: Callable[[float], None] = time.sleep) -> bytes:
    headers = {"User-Agent": "firmpass-db-update"}
    if api_key:
        headers["apiKey"] = api_key
    last: Exception | None = None
    for attempt in range(retries):
        try:
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - https URLs we build
                data = r.read()
            return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        except urllib.error.HTTPError as e:
            last = e
            if e.code not in (403, 408, 429) and e.code < 500:
                break
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            last = e
        if attempt < retries - 1:
            sleep(backoff * (2 ** attempt))
    raise FirmpassError("db.err.network", url=url, detail=str(last))


def update_nvd(store: Store, base_url: str = NVD_URL, now: datetime | None = None, api_key: str | None = None,
               progress: Callable[[int, int], None] | None = None, **kw) -> int:
    now = now or datetime.now(timezone.utc)
    cur = store.get_cursor("nvd") or {}
    if "window_start" in cur:  # resume an interrupted run
        start = datetime.fromisoformat(cur["window_start"])
        index = int(cur.get("start_index", 0))
        end_all = datetime.fromisoformat(cur["until"])
    else:
        last = cur.get("last_mod")
        start = datetime.fromisoformat(last) if last else now - MAX_WINDOW
        index = 0
        end_all = now
    total_done = 0
    while start < end_all:
        end = min(start + MAX_WINDOW, end_all)
        while True:
            q = urllib.parse.urlencode({"lastModStartDate": _fmt(start), "lastModEndDate": _fmt(end),
                                        "startIndex": index, "resultsPerPage": PAGE})
            obj = json.loads(fetch(f"{base_url}?{q}", api_key=api_key, **kw))
            recs, _ = nvd.parse_nvd(obj)
            with store.session() as s, s.begin():
                store.ingest_vulns(s, "nvd", recs)
                store.touch_source(s, "nvd", "nvd", count_vulns(store, s, "nvd"), base_url, obj.get("timestamp"))
            total_done += len(recs)
            index += int(obj.get("resultsPerPage") or len(recs))
            total = int(obj.get("totalResults") or 0)
            if progress:
                progress(min(index, total), total)
            store.set_cursor("nvd", {"window_start": start.isoformat(), "start_index": index,
                                     "until": end_all.isoformat(), "last_mod": cur.get("last_mod")})
            if index >= total or not recs:
                break
        start, index = end, 0
        store.set_cursor("nvd", {"window_start": start.isoformat(), "start_index": 0, "until": end_all.isoformat(),
                                 "last_mod": cur.get("last_mod")})
    store.set_cursor("nvd", {"last_mod": end_all.isoformat()})
    return total_done


def update_euvd(store: Store, base_url: str = EUVD_URL, now: datetime | None = None,
                progress: Callable[[int, int], None] | None = None, **kw) -> int:
    """ENISA EUVD records updated since the last run, a week-long window at a time
    (fromUpdatedDate/toUpdatedDate, page/size).  The cursor is saved after every page, so an
    interrupted update resumes at that page; a finished one records the day it reached."""
    now = now or datetime.now(timezone.utc)
    cur = store.get_cursor("euvd") or {}
    if "window_start" in cur:
        start, page = datetime.fromisoformat(cur["window_start"]), int(cur.get("page", 0))
        end_all = datetime.fromisoformat(cur["until"])
    else:
        last = cur.get("last_update")
        start, page, end_all = (datetime.fromisoformat(last) if last else now - EUVD_FIRST), 0, now
    done = 0
    while start < end_all:
        end = min(start + EUVD_WINDOW, end_all)
        while True:
            q = urllib.parse.urlencode({"fromUpdatedDate": start.date().isoformat(), "toUpdatedDate": end.date().isoformat(),
                                        "size": EUVD_PAGE, "page": page})
            obj = json.loads(fetch(f"{base_url}?{q}", **kw))
            if not isinstance(obj, dict) or not isinstance(obj.get("items"), list):
                raise FirmpassError("db.err.network", url=base_url, detail="unexpected content for euvd")
            items = obj["items"]
            if items:
                with store.session() as s, s.begin():
                    feeds.ingest(store, s, "euvd", {"items": items}, None, base_url)
            done += len(items)
            page += 1
            total = int(obj.get("total") or 0)
            if progress:
                progress(min(page * EUVD_PAGE, total), total)
            store.set_cursor("euvd", {"window_start": start.isoformat(), "page": page, "until": end_all.isoformat(),
                                      "last_update": cur.get("last_update")}, kind="euvd")
            # `total` may be missing or capped by the service: a full page always asks for the next one
            if not items or (len(items) < EUVD_PAGE and page * EUVD_PAGE >= total):
                break
        start, page = end, 0
        store.set_cursor("euvd", {"window_start": start.isoformat(), "page": 0, "until": end_all.isoformat(),
                                  "last_update": cur.get("last_update")}, kind="euvd")
    store.set_cursor("euvd", {"last_update": end_all.isoformat()}, kind="euvd")
    return done


def update_file(store: Store, url: str, name: str, **kw) -> int:
    data = fetch(url, **kw)
    text = data.decode("utf-8", "replace")
    if text.lstrip().startswith(("{", "[")):
        obj, txt = json.loads(text), None
    else:
        obj, txt = None, text
    fmt = feeds.sniff(obj) if obj is not None else feeds.sniff_text(txt)
    if fmt is None:
        raise FirmpassError("db.err.network", url=url, detail=f"unexpected content for {name}")
    with store.session() as s, s.begin():
        return feeds.ingest(store, s, fmt, obj, txt, url)
