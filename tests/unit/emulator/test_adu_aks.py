"""Device Update data plane and AKS operation status."""

import json
import urllib.parse

ADU = "https://api.adu.microsoft.com/.default"
GA = "/deviceUpdate/blue/updates/operations"
AKS = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-test/providers/Microsoft.ContainerService/managedClusters/aks-test"


def _adu(client, url, **kwargs):
    return client.get(url, scope=ADU, **kwargs)


def test_adu_list_paging_and_filter(client):
    url = GA + "?api-version=2022-10-01"
    ids = []
    while url:
        body = _adu(client, url).json()
        ids += [op["operationId"] for op in body["value"]]
        url = body.get("nextLink")
        assert url is None or (url.startswith("/deviceUpdate/blue/updates/operations?") and "skipToken=" in url)
    assert len(ids) == len(set(ids)) == 250
    flt = urllib.parse.quote("status eq 'Running' or status eq 'NotStarted'")
    body = _adu(client, GA + "?api-version=2022-10-01&filter=" + flt + "&top=5").json()
    assert 0 < len(body["value"]) <= 5 and all(op["status"] in ("Running", "NotStarted") for op in body["value"])
    assert "top=5" in body["nextLink"] and "filter=" in body["nextLink"]   # top is the page size
    resp = _adu(client, GA + "?api-version=2022-10-01&filter=" + urllib.parse.quote("status eq 'Failed'"))
    assert resp.status_code == 400 and resp.json()["error"]["code"]
    assert _adu(client, GA + "?api-version=2020-09-01").status_code == 400
    assert _adu(client, GA).status_code == 400


def test_adu_get_etag_retry_after_and_404(emulator, client):
    op_id = "11111111-0000-0000-0000-000000000001"
    resp = _adu(client, GA + "/" + op_id + "?api-version=2022-10-01")
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "Running" and body["update"]["updateId"]["version"] == "1.0.0"
    assert resp.headers["ETag"] == body["etag"] and int(resp.headers["Retry-After"]) >= 1
    again = _adu(client, GA + "/" + op_id + "?api-version=2022-10-01", headers={"If-None-Match": body["etag"]})
    assert again.status_code == 304 and again.content == b""
    emulator.advance(120)
    done = _adu(client, GA + "/" + op_id + "?api-version=2022-10-01", headers={"If-None-Match": body["etag"]})
    assert done.status_code == 200 and done.json()["status"] == "Succeeded" and "Retry-After" not in done.headers
    failed = _adu(client, GA + "/11111111-0000-0000-0000-000000000002?api-version=2022-10-01").json()
    assert failed["status"] == "Failed" and failed["error"]["code"] == "CannotProcessImportManifest"
    assert failed["error"]["innerError"]["code"] == "CannotDownload"
    missing = _adu(client, GA + "/foo?api-version=2022-10-01")
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json; charset=utf-8"
    assert set(missing.json()) == {"type", "title", "status", "traceId"} and missing.json()["title"] == "Not Found"


def test_adu_generated_op_lookup(client):
    first = _adu(client, GA + "?api-version=2022-10-01").json()["value"][10]
    got = _adu(client, GA + "/" + first["operationId"] + "?api-version=2022-10-01").json()
    assert got["operationId"] == first["operationId"] and got["etag"] == first["etag"]


def test_adu_import_lifecycle(emulator, client):
    body = [{"importManifest": {"url": "https://example.invalid/m.json", "sizeInBytes": 1, "hashes": {"sha256": "x"}}}]
    resp = client.post("/deviceUpdate/blue/updates:import?api-version=2022-10-01", scope=ADU, json=body)
    assert resp.status_code == 202
    location = resp.headers["Operation-Location"]
    assert location.startswith("/deviceUpdate/blue/updates/operations/") and location.endswith("?api-version=2022-10-01")
    statuses = []
    for attempt in range(3):
        statuses.append(_adu(client, location).json()["status"])
        emulator.advance(20)
    assert statuses == ["NotStarted", "Running", "Succeeded"]
    assert client.post("/deviceUpdate/blue/updates:import?api-version=2022-10-01", scope=ADU, json=[{}]).status_code == 400


def test_adu_legacy(client):
    body = _adu(client, "/deviceupdate/blue/v2/updates/operations?$top=100").json()
    assert "updateId" in next(op for op in body["value"] if op["status"] == "Succeeded")
    assert "update" not in body["value"][0]
    link = body["nextLink"]
    assert link.startswith("/deviceupdate/blue/v2/updates/operations?") and "$skipToken=" in link
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["$skipToken"][0]
    assert json.loads(token) == {"offset": 100}
    assert len(_adu(client, link).json()["value"]) == 100
    resp = client.post("/deviceupdate/blue/v2/updates?action=import", scope=ADU, json={"importManifest": {"url": "https://x/y"}})
    assert resp.status_code == 202 and resp.headers["Operation-Location"].startswith("/deviceupdate/blue/v2/updates/operations/")


def test_adu_rate_limit(emulator, client):
    emulator.set_time_scale(0.001)  # simulated time all but stands still: the 51 reads fall in one one-minute window
    url = "/deviceUpdate/green/updates/operations?api-version=2022-10-01&top=1"
    codes = [_adu(client, url).status_code for attempt in range(51)]
    assert codes[:50] == [200] * 50
    last = _adu(client, url)
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1 and last.json()["error"]["code"]
    emulator.advance(60)
    assert _adu(client, url).status_code == 200


def test_aks_operations(emulator, client):
    base = AKS + "/operations/"
    body = client.get(base + "00000000-0000-0000-0000-0000000000a3?api-version=2025-05-02-preview").json()
    assert body["status"] == "InProgress" and body["percentComplete"] == 0 and body["startTime"].endswith("Z")
    assert body["id"].endswith("/managedClusters/aks-test/operations/00000000-0000-0000-0000-0000000000a3")
    assert [op["status"] for op in body["operations"]] == ["InProgress", "NotStarted"]
    emulator.advance(1800)
    body = client.get(base + "00000000-0000-0000-0000-0000000000a3?api-version=2025-05-02-preview").json()
    assert body["percentComplete"] == 50
    failed = client.get(AKS + "/agentPools/nodepool1/operations/00000000-0000-0000-0000-0000000000a2?api-version=2025-05-02-preview").json()
    assert failed["status"] == "Failed" and failed["error"]["code"] == "ReconcileAgentPoolIdentityError" and "endTime" in failed
    ok = client.get(base + "00000000-0000-0000-0000-0000000000a1?api-version=2025-05-02-preview").json()
    assert ok["status"] == "Succeeded"
    listing = client.get(AKS + "/operations?api-version=2025-05-02-preview").json()
    assert len(listing["value"]) == 3
    resp = client.get(base + "nope?api-version=2025-05-02-preview")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "NotFound"
    assert client.get(base + "nope").json()["error"]["code"] == "MissingApiVersionParameter"


def test_large_generated_scenarios(emulator, client):
    from tests.emulator import fleet  # pylint: disable=import-outside-toplevel
    data = fleet(500, fault_every=10)
    data["adu_instances"] = [{"instance_id": "big", "generate": {"count": 10000}}]
    emulator.load(data)
    body = client.get("/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Compute/virtualMachineScaleSets"
                      "?api-version=2024-07-01&$skiptoken=490").json()
    assert len(body["value"]) == 10 and "nextLink" not in body
    flt = urllib.parse.quote("status eq 'NotStarted'")
    page = _adu(client, "/deviceUpdate/big/updates/operations?api-version=2022-10-01&filter=" + flt).json()
    assert len(page["value"]) == 100 and all(op["status"] == "NotStarted" for op in page["value"])
    assert emulator.state()["adu_instances"][0]["operation_count"] == 10000
