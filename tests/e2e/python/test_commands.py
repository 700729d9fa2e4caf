"""End-to-end: the management commands the SDKs' own test suites, Kqlmagic, pykusto and the
ADX web UI send, in the forms they send them (bracketed names, adjacent string literals)."""

import json
import uuid

from azure.kusto.data import ClientRequestProperties, KustoClient, KustoConnectionStringBuilder

DB = "NetDefaultDB"


def client(server):
    return KustoClient(KustoConnectionStringBuilder.with_no_authentication(server.url))


def test_sdk_test_setup_commands(server):
    # What azure-kusto-python's own E2E tests send before ingesting.
    c = client(server)
    table = f"python_e2e_{uuid.uuid4().hex[:8]}"
    c.execute_mgmt(DB, f".drop table ['{table}'] ifexists")
    c.execute_mgmt(DB, f".create table ['{table}'] (rownumber: int, rowguid: string, xdouble: real)")
    c.execute_mgmt(DB, ".clear database cache streamingingestion schema")
    # The JSON mapping as the SDK's tests send it: adjacent string literals, one per column.
    c.execute_mgmt(
        DB,
        f".create table ['{table}'] ingestion json mapping 'JsonMapping' "
        "'[' "
        "'{\"column\":\"rownumber\", \"Properties\":{\"Path\":\"$.rownumber\"}},' "
        "'{\"column\":\"rowguid\", \"Properties\":{\"Path\":\"$.rowguid\"}},' "
        "'{\"column\":\"xdouble\", \"Properties\":{\"Path\":\"$.xdouble\"}}' "
        "']'",
    )
    rows = c.execute_mgmt(DB, f".show table ['{table}'] ingestion json mappings").primary_results[0]
    mapping = json.loads(rows[0]["Mapping"])
    assert [m["column"].lower() if "column" in m else m["Column"].lower() for m in mapping] == [
        "rownumber",
        "rowguid",
        "xdouble",
    ]
    c.execute_mgmt(DB, f".drop table ['{table}'] ifexists")
    c.execute_mgmt(DB, f".drop table ['{table}'] ifexists")
    names = [r["TableName"] for r in c.execute_mgmt(DB, ".show tables").primary_results[0]]
    assert table not in names


def test_schema_discovery_of_kqlmagic_pykusto_and_grafana(server):
    c = client(server)
    c.execute_mgmt(DB, ".create-merge table Devices (Id:string, Seen:datetime, Temp:real)")
    # Kqlmagic on connect
    rows = c.execute_mgmt(DB, f".show database ['{DB}'] schema").primary_results[0]
    cols = [(r["TableName"], r["ColumnName"], r["ColumnType"]) for r in rows if r["TableName"] == "Devices"]
    assert ("Devices", "Temp", "System.Double") in cols
    # pykusto reads the storage type names of .show table
    rows = c.execute_mgmt(DB, ".show table Devices").primary_results[0]
    assert [(r["AttributeName"], r["AttributeType"]) for r in rows] == [
        ("Id", "StringBuffer"),
        ("Seen", "DateTime"),
        ("Temp", "R64"),
    ]
    # Grafana's schema request
    rows = c.execute_mgmt(DB, f".show databases (['{DB}']) schema as json").primary_results[0]
    schema = json.loads(rows[0]["DatabaseSchema"])
    assert "Devices" in schema["Databases"][DB]["Tables"]
    # the ADX web UI's entity list
    rows = c.execute_mgmt(DB, ".show databases entities with (showObfuscatedStrings=true)").primary_results[0]
    assert any(r["EntityName"] == "Devices" and r["EntityType"] == "Table" for r in rows)


def test_queries_are_recorded_and_commands_journaled(server):
    c = client(server)
    props = ClientRequestProperties()
    request_id = f"KPC.execute;{uuid.uuid4()}"
    props.client_request_id = request_id
    c.execute_query(DB, "print answer = 42", props)
    rows = c.execute_mgmt(DB, ".show queries").primary_results[0]
    mine = [r for r in rows if r["ClientActivityId"] == request_id]
    assert len(mine) == 1 and mine[0]["State"] == "Completed" and mine[0]["Text"] == "print answer = 42"
    c.execute_mgmt(DB, ".create-merge table Journaled (a:long)")
    rows = c.execute_mgmt(DB, ".show journal | where EntityName == 'Journaled'").primary_results[0]
    assert rows[0]["Event"] == "CREATE-TABLE"
