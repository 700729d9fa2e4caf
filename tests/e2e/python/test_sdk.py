"""End-to-end: the official Python SDKs (azure-kusto-data / azure-kusto-ingest) against Calypso."""

import datetime
import decimal
import gzip
import io
import json
import math
import uuid

import pytest
from azure.kusto.data import ClientRequestProperties, KustoClient, KustoConnectionStringBuilder
from azure.kusto.data.data_format import DataFormat
from azure.kusto.data.exceptions import KustoApiError
from azure.kusto.ingest import (
    IngestionMappingKind,
    IngestionProperties,
    KustoStreamingIngestClient,
    ManagedStreamingIngestClient,
    StreamDescriptor,
)

DB = "NetDefaultDB"


def kcsb(server):
    return KustoConnectionStringBuilder.with_no_authentication(server.url)


def client(server):
    return KustoClient(kcsb(server))


def count(c, table):
    return c.execute_query(DB, f"{table} | count").primary_results[0][0]["Count"]


def test_create_table_and_schema_round_trip(server):
    c = client(server)
    c.execute_mgmt(DB, ".create table Events (Timestamp:datetime, Name:string, Value:long, Ratio:real, Props:dynamic)")
    res = c.execute_mgmt(DB, ".show table Events schema as json").primary_results[0]
    row = res[0]
    assert row["TableName"] == "Events"
    schema = json.loads(row["Schema"])
    assert [(col["Name"], col["CslType"]) for col in schema["OrderedColumns"]] == [
        ("Timestamp", "datetime"),
        ("Name", "string"),
        ("Value", "long"),
        ("Ratio", "real"),
        ("Props", "dynamic"),
    ]
    assert schema["OrderedColumns"][0]["Type"] == "System.DateTime"
    tables = [r["TableName"] for r in c.execute_mgmt(DB, ".show tables").primary_results[0]]
    assert "Events" in tables


def test_streaming_csv_requires_the_policy(server):
    c = client(server)
    c.execute_mgmt(DB, ".create table NoPolicy (a:long)")
    ingest = KustoStreamingIngestClient(kcsb(server))
    props = IngestionProperties(database=DB, table="NoPolicy", data_format=DataFormat.CSV)
    with pytest.raises(KustoApiError) as err:
        ingest.ingest_from_stream(io.BytesIO(b"1\n2\n"), ingestion_properties=props)
    e = err.value.get_api_error()
    assert e.code == "StreamingIngestionFunctionalityDisabled"
    assert e.permanent is True
    assert count(c, "NoPolicy") == 0


def test_streaming_csv_and_managed_multijson(server):
    c = client(server)
    c.execute_mgmt(DB, ".create table Logs (Timestamp:datetime, Level:string, Code:long, Latency:real, Props:dynamic)")
    c.execute_mgmt(DB, ".alter table Logs policy streamingingestion enable")
    csv = (
        "2024-01-01T10:00:00Z,Error,500,12.5,\"{\"\"k\"\":1}\"\n"
        "2024-01-01T10:05:00Z,Info,200,3.25,\"[1,2]\"\n"
        "2024-01-01T11:00:00Z,\"Warning, soft\",404,not-a-number,\n"
    ).encode()
    ingest = KustoStreamingIngestClient(kcsb(server))
    props = IngestionProperties(database=DB, table="Logs", data_format=DataFormat.CSV)
    ingest.ingest_from_stream(StreamDescriptor(io.BytesIO(csv)), ingestion_properties=props)
    assert count(c, "Logs") == 3

    managed = ManagedStreamingIngestClient(kcsb(server))
    rows = [
        {"Timestamp": "2024-01-02T00:00:00Z", "Level": "Debug", "Code": 1, "Latency": 0.5, "Props": {"a": [1, 2]}},
        {"Timestamp": "2024-01-02T00:00:01Z", "Level": "Debug", "Code": 2, "Latency": 1.5, "Props": None},
    ]
    body = "\n".join(json.dumps(r, indent=2) for r in rows).encode()
    props = IngestionProperties(database=DB, table="Logs", data_format=DataFormat.MULTIJSON)
    managed.ingest_from_stream(io.BytesIO(body), ingestion_properties=props)
    assert count(c, "Logs") == 5

    res = c.execute_query(DB, "Logs | where Level == 'Warning, soft' | project Latency, Props").primary_results[0]
    assert res[0]["Latency"] is None  # an invalid value becomes null
    res = c.execute_query(DB, "Logs | where Code == 500 | project P = Props.k").primary_results[0]
    assert res[0]["P"] == 1
    res = c.execute_query(DB, "Logs | where Code == 1 | project Props").primary_results[0]
    assert res[0]["Props"] == {"a": [1, 2]}


def test_streaming_json_with_a_named_mapping(server):
    c = client(server)
    c.execute_mgmt(DB, ".create table Telemetry (Device:string, Temp:real, At:datetime)")
    c.execute_mgmt(DB, ".alter table Telemetry policy streamingingestion enable")
    mapping = json.dumps([
        {"column": "Device", "Properties": {"Path": "$.device.id"}},
        {"column": "Temp", "Properties": {"Path": "$.body.temperature"}},
        {"column": "At", "Properties": {"Path": "$.ts", "Transform": "DateTimeFromUnixMilliseconds"}},
    ])
    res = c.execute_mgmt(DB, f".create table Telemetry ingestion json mapping 'iot' '{mapping}'").primary_results[0]
    assert res[0]["Name"] == "iot" and res[0]["Kind"] == "Json"
    ingest = KustoStreamingIngestClient(kcsb(server))
    props = IngestionProperties(
        database=DB,
        table="Telemetry",
        data_format=DataFormat.MULTIJSON,
        ingestion_mapping_reference="iot",
        ingestion_mapping_kind=IngestionMappingKind.JSON,
    )
    body = b'{"device":{"id":"d1"},"body":{"temperature":21.5},"ts":1700000000000}'
    ingest.ingest_from_stream(io.BytesIO(body), ingestion_properties=props)
    row = c.execute_query(DB, "Telemetry").primary_results[0][0]
    assert row["Device"] == "d1" and row["Temp"] == 21.5
    assert row["At"] == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)

    missing = IngestionProperties(
        database=DB,
        table="Telemetry",
        data_format=DataFormat.MULTIJSON,
        ingestion_mapping_reference="nope",
        ingestion_mapping_kind=IngestionMappingKind.JSON,
    )
    with pytest.raises(KustoApiError) as err:
        ingest.ingest_from_stream(io.BytesIO(body), ingestion_properties=missing)
    e = err.value.get_api_error()
    assert e.code == "BadRequest_MappingReferenceWasNotFound"
    assert e.permanent is True
    assert count(c, "Telemetry") == 1


def test_malformed_csv_is_rejected_permanently(server):
    c = client(server)
    c.execute_mgmt(DB, ".create table Strict (a:long, b:string)")
    c.execute_mgmt(DB, ".alter table Strict policy streamingingestion enable")
    ingest = KustoStreamingIngestClient(kcsb(server))
    props = IngestionProperties(database=DB, table="Strict", data_format=DataFormat.CSV)
    ingest.ingest_from_stream(io.BytesIO(b"1,a\n"), ingestion_properties=props)
    before = count(c, "Strict")
    with pytest.raises(KustoApiError) as err:
        ingest.ingest_from_stream(io.BytesIO(b"2,b\n3\n4,d\n"), ingestion_properties=props)
    e = err.value.get_api_error()
    assert e.permanent is True
    assert e.code == "Stream_WrongNumberOfFields"
    assert "2" in (e.description or e.message)
    assert count(c, "Strict") == before


def test_gzip_body_is_recognized(server):
    c = client(server)
    c.execute_mgmt(DB, ".create table Zipped (a:long)")
    c.execute_mgmt(DB, ".alter table Zipped policy streamingingestion enable")
    ingest = KustoStreamingIngestClient(kcsb(server))
    props = IngestionProperties(database=DB, table="Zipped", data_format=DataFormat.CSV)
    body = gzip.compress(b"\n".join(str(i).encode() for i in range(1000)) + b"\n")
    ingest.ingest_from_stream(io.BytesIO(body), ingestion_properties=props)
    assert c.execute_query(DB, "Zipped | summarize s = sum(a)").primary_results[0][0]["s"] == sum(range(1000))


def test_query_parameters_and_typed_values(server):
    c = client(server)
    crp = ClientRequestProperties()
    crp.set_parameter("n", "5")
    crp.set_parameter("name", "calypso")
    crp.set_parameter("since", "datetime(2024-01-01T00:00:00Z)")
    q = """declare query_parameters(n:long, name:string, since:datetime);
    print n2 = n * 2, greeting = strcat('hi ', name), d = since + 1d, t = 1d + 2h + 3s,
          dyn = dynamic({"a": [1, "x", null]}), dec = todecimal('1.25'), g = toguid('74be27de-1e4e-49d9-b579-fe0b331d3642'),
          b = true, nan = real(nan), big = 9007199254740993"""
    row = c.execute_query(DB, q, crp).primary_results[0][0]
    assert row["n2"] == 10
    assert row["greeting"] == "hi calypso"
    assert row["d"] == datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)
    assert row["t"] == datetime.timedelta(days=1, hours=2, seconds=3)
    assert row["dyn"] == {"a": [1, "x", None]}
    assert row["dec"] == decimal.Decimal("1.25")
    assert str(row["g"]) == "74be27de-1e4e-49d9-b579-fe0b331d3642"
    assert row["b"] is True
    # real NaN travels as the string "NaN" (as ADX sends it); the SDK passes it through
    assert math.isnan(float(row["nan"]))
    assert row["big"] == 9007199254740993


def test_syntax_and_semantic_errors(server):
    c = client(server)
    with pytest.raises(KustoApiError) as err:
        c.execute_query(DB, "print 1 +")
    assert err.value.get_api_error().code == "BadRequest_SyntaxError"
    with pytest.raises(KustoApiError) as err:
        c.execute_query(DB, "NoSuchTable | count")
    assert err.value.is_semantic_error()


def test_render_visualization_reaches_the_client(server):
    c = client(server)
    res = c.execute_query(DB, "range x from 1 to 3 step 1 | render timechart with (title='T')")
    assert len(res.primary_results[0]) == 3


def test_data_survives_a_restart(server):
    c = client(server)
    c.execute_mgmt(DB, ".create table Durable (k:string, v:long)")
    c.execute_mgmt(DB, ".ingest inline into table Durable <| a,1\nb,2")
    c.execute_mgmt(DB, ".set-or-append Durable <| print k = 'c', v = 3")
    assert count(c, "Durable") == 3
    server.restart()
    c = client(server)
    res = c.execute_query(DB, "Durable | summarize s = sum(v)").primary_results[0]
    assert res[0]["s"] == 6
    schema = json.loads(c.execute_mgmt(DB, ".show table Durable schema as json").primary_results[0][0]["Schema"])
    assert [col["Name"] for col in schema["OrderedColumns"]] == ["k", "v"]
