"""jwt mode with the real SDKs: a local identity provider (RSA key, discovery document and
JWKS served on 127.0.0.1) mints Entra-shaped tokens; the SDK sends them with
with_aad_application_token_authentication and with a token-provider callback."""

import base64
import http.server
import io
import json
import tempfile
import threading
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from azure.kusto.data import KustoClient, KustoConnectionStringBuilder
from azure.kusto.data.data_format import DataFormat
from azure.kusto.data.exceptions import KustoApiError, KustoServiceError
from azure.kusto.ingest import IngestionProperties, KustoStreamingIngestClient

from conftest import CalypsoServer

DB = "NetDefaultDB"
TENANT = str(uuid.uuid4())
ADMIN_APP = str(uuid.uuid4())
VIEWER_OID = str(uuid.uuid4())


def b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Idp:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = self.key.public_key().public_numbers()
        self.jwks = {"keys": [{"kty": "RSA", "use": "sig", "kid": "k1", "alg": "RS256", "n": b64(pub.n), "e": b64(pub.e)}]}
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = {"issuer": idp.issuer, "jwks_uri": idp.base + "/keys"}
                elif self.path.endswith("/keys"):
                    body = idp.jwks
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.issuer = f"{self.base}/{TENANT}/v2.0"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, **claims):
        now = int(time.time())
        body = {"iss": self.issuer, "aud": "https://kusto.kusto.windows.net", "tid": TENANT,
                "iat": now, "nbf": now - 10, "exp": now + 3600, "ver": "2.0"}
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "k1"})

    def app_token(self, appid):
        oid = str(uuid.uuid5(uuid.NAMESPACE_OID, appid))
        return self.token(appid=appid, azp=appid, idtyp="app", oid=oid, sub=oid)

    def user_token(self, oid, upn):
        return self.token(oid=oid, sub=oid, upn=upn, name=upn, scp="user_impersonation", azp=str(uuid.uuid4()))


@pytest.fixture(scope="module")
def idp():
    i = Idp()
    yield i
    i.httpd.shutdown()


@pytest.fixture(scope="module")
def jwt_server(idp):
    with tempfile.TemporaryDirectory(prefix="calypso-e2e-auth-") as d:
        s = CalypsoServer(d, ["--auth", "jwt", "--issuer", idp.issuer,
                              "--cluster-admin", f"aadapp={ADMIN_APP};{TENANT}"]).start()
        try:
            yield s
        finally:
            s.stop()


def test_application_token_and_token_provider(jwt_server, idp):
    admin = KustoClient(KustoConnectionStringBuilder.with_aad_application_token_authentication(
        jwt_server.url, application_token=idp.app_token(ADMIN_APP)))
    admin.execute_mgmt(DB, ".create table Secure (Id:long, Name:string)")
    admin.execute_mgmt(DB, ".alter table Secure policy streamingingestion enable")
    admin.execute_mgmt(DB, f".add database {DB} viewers ('aaduser={VIEWER_OID};{TENANT}') 'reader'")
    principals = admin.execute_mgmt(DB, f".show database {DB} principals").primary_results[0]
    assert any(VIEWER_OID in r["PrincipalFQN"] for r in principals)

    ingest = KustoStreamingIngestClient(KustoConnectionStringBuilder.with_aad_application_token_authentication(
        jwt_server.url, application_token=idp.app_token(ADMIN_APP)))
    props = IngestionProperties(database=DB, table="Secure", data_format=DataFormat.CSV)
    ingest.ingest_from_stream(io.BytesIO(b"1,one\n2,two\n"), ingestion_properties=props)

    calls = []

    def provider():
        calls.append(1)
        return idp.user_token(VIEWER_OID, "viona@contoso.com")

    viewer = KustoClient(KustoConnectionStringBuilder.with_token_provider(jwt_server.url, provider))
    rows = viewer.execute_query(DB, "Secure | order by Id asc | project Name").primary_results[0]
    assert [r["Name"] for r in rows] == ["one", "two"]
    me = viewer.execute_query(DB, "print p = current_principal()").primary_results[0][0]["p"]
    assert me == f"aaduser={VIEWER_OID};{TENANT}"
    assert calls, "the token provider was called"

    with pytest.raises(KustoApiError) as err:
        viewer.execute_mgmt(DB, ".drop table Secure")
    assert err.value.get_api_error().code == "Forbidden"


def test_missing_or_bad_tokens_are_refused(jwt_server, idp):
    anonymous = KustoClient(KustoConnectionStringBuilder.with_no_authentication(jwt_server.url))
    with pytest.raises(KustoServiceError):
        anonymous.execute_query(DB, "print 1")
    other = Idp()
    forged = KustoClient(KustoConnectionStringBuilder.with_aad_application_token_authentication(
        jwt_server.url, application_token=other.app_token(ADMIN_APP)))
    with pytest.raises(KustoServiceError):
        forged.execute_query(DB, "print 1")
    other.httpd.shutdown()
