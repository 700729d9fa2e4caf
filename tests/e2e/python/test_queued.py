"""End-to-end: queued ingestion through the unmodified Python ingest SDK (QueuedIngestClient,
KustoIngestStatusQueues, the managed client's fallback) against Calypso's own
data-management surface on the same port."""

import base64
import io
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest
from azure.kusto.data import KustoClient, KustoConnectionStringBuilder
from azure.kusto.data.data_format import DataFormat
from azure.kusto.ingest import (
    IngestionMappingKind,
    IngestionProperties,
    ManagedStreamingIngestClient,
    QueuedIngestClient,
    ReportLevel,
)
from azure.kusto.ingest.status import KustoIngestStatusQueues

DB = "NetDefaultDB"


def kcsb(server):
    return KustoConnectionStringBuilder.with_no_authentication(server.url)


def count(c, table):
    return c.execute_query(DB, f"{table} | count").primary_results[0][0]["Count"]


def wait_for_rows(c, table, expected, seconds=30):
    deadline = time.time() + seconds
    n = count(c, table)
    while n < expected and time.time() < deadline:
        time.sleep(0.2)
        n = count(c, table)
    return n


def pop_within(queue, seconds):
    """Status messages popped from `queue` (success or failure), waiting up to `seconds`."""
    deadline = time.time() + seconds
    got = queue.pop(5)
    while not got and time.time() < deadline:
        time.sleep(0.2)
        got = queue.pop(5)
    return got


def resources(c):
    rows = c.execute_mgmt(DB, ".get ingestion resources").primary_results[0]
    return {r["ResourceTypeName"]: r["StorageRoot"] for r in rows}


def test_ingestion_resources_point_at_this_server(server):
    c = KustoClient(kcsb(server))
    res = resources(c)
    assert set(res) == {
        "SecuredReadyForAggregationQueue",
        "FailedIngestionsQueue",
        "SuccessfulIngestionsQueue",
        "TempStorage",
        "IngestionsStatusTable",
    }
    for url in res.values():
        assert url.startswith(server.url + "/calypso/"), url
        assert "sig=" in url and "se=" in url
    token = c.execute_mgmt(DB, ".get kusto identity token").primary_results[0][0]["AuthorizationContext"]
    assert token.strip()


def test_queued_csv_file_batched_with_first_record_skipped_and_tags(server):
    c = KustoClient(kcsb(server))
    c.execute_mgmt(DB, ".create table QCsv (a:long, b:string)")
    # A file's size is known, so it waits for a batch: at most 10 s here (ADX's least).
    c.execute_mgmt(DB, """.alter table QCsv policy ingestionbatching '{"MaximumBatchingTimeSpan": "00:00:10"}'""")
    ingest = QueuedIngestClient(kcsb(server))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rows.csv")
        with open(path, "w") as f:
            f.write("a,b\n")
            for i in range(1, 1001):
                f.write(f"{i},row{i}\n")
        props = IngestionProperties(
            database=DB,
            table="QCsv",
            data_format=DataFormat.CSV,
            additional_properties={"ignoreFirstRecord": "true"},
            drop_by_tags=["qd"],
            report_level=ReportLevel.FailuresAndSuccesses,
        )
        started = time.time()
        result = ingest.ingest_from_file(path, ingestion_properties=props)
        assert str(result.status).endswith("QUEUED"), result
        time.sleep(2)
        assert count(c, "QCsv") == 0, "the batch is open"
    assert wait_for_rows(c, "QCsv", 1000) == 1000
    waited = time.time() - started
    assert 9 <= waited <= 20, waited
    row = c.execute_query(DB, "QCsv | summarize s = sum(a), m = max(b)").primary_results[0][0]
    assert row["s"] == 500500
    tags = c.execute_mgmt(DB, ".show table QCsv extents | project Tags").primary_results[0][0]["Tags"]
    assert "drop-by:qd" in tags
    # The success report, read as the SDK reads it.
    queues = KustoIngestStatusQueues(ingest)
    got = pop_within(queues.success, 10)
    assert got, "a success report"
    assert got[0].Table == "QCsv" and got[0].Database == DB
    assert queues.failure.is_empty()


def test_queued_dataframe_json_and_stream_with_a_mapping(server):
    import pandas as pd

    c = KustoClient(kcsb(server))
    c.execute_mgmt(DB, ".create table QJson (name:string, value:long)")
    c.execute_mgmt(
        DB,
        """.create table QJson ingestion json mapping "jm" '[{"column":"name","Properties":{"Path":"$.n"}},{"column":"value","Properties":{"Path":"$.v"}}]'""",
    )
    ingest = QueuedIngestClient(kcsb(server))
    df = pd.DataFrame({"name": ["x", "y", "z"], "value": [1, 2, 3]})
    ingest.ingest_from_dataframe(
        df, IngestionProperties(database=DB, table="QJson", data_format=DataFormat.JSON, flush_immediately=True)
    )
    lines = "\n".join(json.dumps({"n": f"s{i}", "v": i * 10}) for i in range(5)).encode()
    from azure.kusto.ingest import StreamDescriptor

    props = IngestionProperties(
        database=DB,
        table="QJson",
        data_format=DataFormat.JSON,
        ingestion_mapping_reference="jm",
        ingestion_mapping_kind=IngestionMappingKind.JSON,
    )
    ingest.ingest_from_stream(StreamDescriptor(io.BytesIO(lines)), ingestion_properties=props)
    assert wait_for_rows(c, "QJson", 8) == 8
    total = c.execute_query(DB, "QJson | summarize sum(value)").primary_results[0][0]["sum_value"]
    assert total == 6 + 100


def test_managed_client_falls_back_to_queued_for_a_large_payload(server):
    c = KustoClient(kcsb(server))
    c.execute_mgmt(DB, ".create table QManaged (a:long, b:string)")
    c.execute_mgmt(DB, ".alter table QManaged policy streamingingestion enable")
    import random

    rnd = random.Random(3)
    # Random hex compresses to about half: over 4 MiB gzipped, the managed client goes
    # queued, and its chained stream of unknown length goes up as Put Block + Put Block List.
    body = "".join(f"{i},{rnd.getrandbits(512):0128x}\n" for i in range(120_000)).encode()
    assert len(body) > 14 << 20
    managed = ManagedStreamingIngestClient(kcsb(server), kcsb(server))
    from azure.kusto.ingest import StreamDescriptor

    managed.ingest_from_stream(
        StreamDescriptor(io.BytesIO(body)),
        IngestionProperties(database=DB, table="QManaged", data_format=DataFormat.CSV),
    )
    assert wait_for_rows(c, "QManaged", 120_000, seconds=60) == 120_000


def test_a_failed_ingestion_is_reported_to_the_failure_queue(server):
    c = KustoClient(kcsb(server))
    c.execute_mgmt(DB, ".create table QBad (a:long)")
    ingest = QueuedIngestClient(kcsb(server))
    from azure.kusto.ingest import StreamDescriptor

    props = IngestionProperties(
        database=DB,
        table="QBad",
        data_format=DataFormat.CSV,
        ingestion_mapping_reference="no-such-mapping",
        ingestion_mapping_kind=IngestionMappingKind.CSV,
        report_level=ReportLevel.FailuresOnly,
    )
    ingest.ingest_from_stream(StreamDescriptor(io.BytesIO(b"1\n2\n")), ingestion_properties=props)
    queues = KustoIngestStatusQueues(ingest)
    got = pop_within(queues.failure, 15)
    assert got, "a failure report"
    assert got[0].Table == "QBad"
    assert "no-such-mapping" in got[0].Details
    assert count(c, "QBad") == 0


def test_storage_calls_need_a_good_signature(server):
    c = KustoClient(kcsb(server))
    temp = resources(c)["TempStorage"]
    base, sas = temp.split("?", 1)

    def put(url):
        req = urllib.request.Request(url, data=b"x", method="PUT", headers={"x-ms-blob-type": "BlockBlob"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.headers.get("x-ms-error-code")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("x-ms-error-code")

    assert put(f"{base}/ok.csv?{sas}")[0] == 201
    assert put(f"{base}/nosig.csv")[0] == 403
    forged = sas.replace("sig=", "sig=AAAA")
    assert put(f"{base}/forged.csv?{forged}")[0] == 403
    # The container's token does not open a queue.
    queue_base = resources(c)["SecuredReadyForAggregationQueue"].split("?", 1)[0]
    req = urllib.request.Request(
        f"{queue_base}/messages?{sas}",
        data=b"<QueueMessage><MessageText>e30=</MessageText></QueueMessage>",
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403


def test_queued_parquet_file(server, tmp_path):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    c = KustoClient(kcsb(server))
    c.execute_mgmt(DB, ".create table QParquet (id:long, name:string, ts:datetime, score:real, n:int)")
    start = datetime.datetime(2026, 1, 1)
    rows = 5000
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": [f"n{i}" for i in range(rows)],
            "ts": pa.array([start + datetime.timedelta(seconds=i) for i in range(rows)], pa.timestamp("us")),
            "score": pa.array([i / 2 for i in range(rows)], pa.float64()),
            # int32 in the file, int in the table; a column the table lacks is ignored.
            "n": pa.array([i % 7 for i in range(rows)], pa.int32()),
            "extra": [True] * rows,
        }
    )
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, compression="snappy")
    ingest = QueuedIngestClient(kcsb(server))
    ingest.ingest_from_file(
        str(path),
        IngestionProperties(database=DB, table="QParquet", data_format=DataFormat.PARQUET, flush_immediately=True),
    )
    assert wait_for_rows(c, "QParquet", rows) == rows
    got = c.execute_query(
        DB,
        "QParquet | summarize s = sum(id), mx = max(score), n7 = sum(n), t0 = min(ts), t1 = max(ts), x = countif(name == 'n42')",
    ).primary_results[0][0]
    assert got["s"] == rows * (rows - 1) // 2
    assert got["mx"] == (rows - 1) / 2
    assert got["n7"] == sum(i % 7 for i in range(rows))
    assert got["t0"].replace(tzinfo=None) == start
    assert got["t1"].replace(tzinfo=None) == start + datetime.timedelta(seconds=rows - 1)
    assert got["x"] == 1


def test_streaming_and_ingest_into_from_a_handed_out_blob(server):
    from azure.kusto.ingest import BlobDescriptor, KustoStreamingIngestClient

    c = KustoClient(kcsb(server))
    c.execute_mgmt(DB, ".create table FromBlob (a:long, s:string)")
    c.execute_mgmt(DB, ".alter table FromBlob policy streamingingestion enable")
    base, sas = resources(c)["TempStorage"].split("?", 1)
    url = f"{base}/from-blob.csv?{sas}"
    req = urllib.request.Request(url, data=b"1,a\n2,b\n3,c\n", method="PUT", headers={"x-ms-blob-type": "BlockBlob"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 201
    # The streaming client's ingest_from_blob: sourceKind=uri with {"sourceUri": ...}.
    streaming = KustoStreamingIngestClient(kcsb(server))
    streaming.ingest_from_blob(
        BlobDescriptor(url), IngestionProperties(database=DB, table="FromBlob", data_format=DataFormat.CSV)
    )
    assert count(c, "FromBlob") == 3
    # .ingest into from the same blob; the result names the blob without its SAS.
    result = c.execute_mgmt(DB, f".ingest into table FromBlob (h'{url}') with (format='csv')").primary_results[0]
    assert result[0]["ItemLoaded"] == f"{base}/from-blob.csv"
    assert result[0]["HasErrors"] == "False"
    assert count(c, "FromBlob") == 6
    # A forged SAS cannot read it.
    forged = url.replace("sig=", "sig=AAAA")
    with pytest.raises(Exception) as e:
        c.execute_mgmt(DB, f".ingest into table FromBlob (h'{forged}')")
    assert "cannot be read" in str(e.value)
    assert count(c, "FromBlob") == 6


def test_queued_messages_survive_a_restart(server):
    c = KustoClient(kcsb(server))
    c.execute_mgmt(DB, ".create table QRestart (a:long)")
    res = resources(c)
    token = c.execute_mgmt(DB, ".get kusto identity token").primary_results[0][0]["AuthorizationContext"]
    temp_base, temp_sas = res["TempStorage"].split("?", 1)
    blob = f"{temp_base}/{DB}__QRestart__{uuid.uuid4()}__r.csv?{temp_sas}"
    req = urllib.request.Request(blob, data=b"1\n2\n3\n", method="PUT", headers={"x-ms-blob-type": "BlockBlob"})
    assert urllib.request.urlopen(req).status == 201
    message = {
        "BlobPath": blob,
        "DatabaseName": DB,
        "TableName": "QRestart",
        "ReportLevel": 1,
        "Id": str(uuid.uuid4()),
        # A visibility delay keeps the worker off it until after the restart.
        "AdditionalProperties": {"authorizationContext": token, "format": "csv"},
    }
    text = base64.b64encode(json.dumps(message).encode()).decode()
    q_base, q_sas = res["SecuredReadyForAggregationQueue"].split("?", 1)
    body = f"<QueueMessage><MessageText>{text}</MessageText></QueueMessage>".encode()
    req = urllib.request.Request(f"{q_base}/messages?visibilitytimeout=3&{q_sas}", data=body, method="POST")
    with urllib.request.urlopen(req) as r:
        assert r.status == 201
        assert b"<MessageId>" in r.read()
    server.restart()
    c = KustoClient(kcsb(server))
    assert wait_for_rows(c, "QRestart", 3, seconds=30) == 3


def test_queued_file_over_64_mib_goes_up_in_blocks(tmp_path, monkeypatch):
    # A server of its own, logging its storage calls (to see the blocks).
    from conftest import CalypsoServer

    monkeypatch.setenv("RUST_LOG", "calypso_server=debug")
    server = CalypsoServer(str(tmp_path / "data")).start()
    try:
        c = KustoClient(kcsb(server))
        c.execute_mgmt(DB, ".create table QBig (a:long, s:string)")
        # The SDK gzips a .csv before upload; azure-storage-blob sends more than 64 MiB
        # (max_single_put_size) as 4 MiB blocks and a block list. The strings are base64
        # of random bytes, 6 bits of information per byte: 88 MiB of them cannot gzip to
        # less than 66 MiB.
        rows = 90_000
        path = tmp_path / "big.csv"
        with open(path, "w") as f:
            for i in range(rows):
                f.write(f"{i},{base64.b64encode(os.urandom(768)).decode()}\n")
        assert rows * 1024 * 6 // 8 > 65 << 20
        ingest = QueuedIngestClient(kcsb(server))
        props = IngestionProperties(database=DB, table="QBig", data_format=DataFormat.CSV, flush_immediately=True)
        result = ingest.ingest_from_file(str(path), ingestion_properties=props)
        assert str(result.status).endswith("QUEUED"), result
        assert wait_for_rows(c, "QBig", rows, seconds=180) == rows
        import re

        calls = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in server.log_lines if "storage call" in l]
        blocks = [l for l in calls if 'comp="block"' in l and "status=201" in l]
        lists = [l for l in calls if 'comp="blocklist"' in l and "status=201" in l]
        # At least 66 MiB in 4 MiB blocks, then one block list.
        assert len(blocks) >= 17 and len(lists) == 1, (len(blocks), len(lists), calls)
        row = c.execute_query(DB, "QBig | summarize n = count(), s = sum(a), l = sum(strlen(s))").primary_results[0][0]
        assert (row["n"], row["s"], row["l"]) == (rows, rows * (rows - 1) // 2, rows * 1024)
    finally:
        server.stop()
