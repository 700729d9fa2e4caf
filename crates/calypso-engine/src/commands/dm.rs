//! The data-management commands of queued ingestion (`shared/reference/queued-ingestion.md`
//! §2): `.get ingestion resources` (one row per resource: the temp container, the ingestion
//! queue, the two status queues and the status table, path-style URLs at the server's
//! public address with SAS tokens) and `.get kusto identity token` (the signed
//! authorization context the SDKs copy into every message), and `.show export containers`
//! (one container of the same blob surface, readable and writable).

use kql_functions::KqlType;
use kql_syntax::ast::DmCommand;
use serde_json::json;

use crate::queued::{
    ACCOUNT, EXPORT_CONTAINER, FAILURE_QUEUE, INGESTION_QUEUE, STATUS_TABLE, SUCCESS_QUEUE,
    TEMP_CONTAINER, TOKEN_LIFETIME,
};
use crate::table::table;
use crate::{Caller, Engine, RequestOptions, Result, ResultTable};

/// The address in URLs when the request did not say (an in-process engine).
const DEFAULT_PUBLIC_URL: &str = "http://localhost";

impl Engine {
    pub(crate) async fn dm_command(
        &self,
        caller: &Caller,
        cmd: &DmCommand,
        options: &RequestOptions,
    ) -> Result<ResultTable> {
        let signer = self.dm.signer(&self.storage).await?;
        let expiry = chrono::Utc::now() + TOKEN_LIFETIME;
        let base = options
            .public_url
            .as_deref()
            .unwrap_or(DEFAULT_PUBLIC_URL)
            .trim_end_matches('/');
        match cmd {
            DmCommand::GetIngestionResources { .. } => {
                // (kind, name, resource signed, SAS resource type, permissions)
                let resources = [
                    ("SecuredReadyForAggregationQueue", INGESTION_QUEUE, 'q', "a"),
                    ("FailedIngestionsQueue", FAILURE_QUEUE, 'q', "rp"),
                    ("SuccessfulIngestionsQueue", SUCCESS_QUEUE, 'q', "rp"),
                    ("TempStorage", TEMP_CONTAINER, 'c', "rw"),
                    ("IngestionsStatusTable", STATUS_TABLE, 't', "r"),
                ];
                let rows = resources
                    .iter()
                    .map(|(kind, name, sr, sp)| {
                        let resource = match sr {
                            'c' => format!("container/{name}"),
                            'q' => format!("queue/{name}"),
                            _ => format!("table/{name}"),
                        };
                        let sas = signer.sas(&resource, *sr, sp, expiry);
                        vec![
                            (*kind).into(),
                            format!("{base}/{ACCOUNT}/{name}?{sas}").into(),
                        ]
                    })
                    .collect();
                table(
                    &[
                        ("ResourceTypeName", KqlType::String),
                        ("StorageRoot", KqlType::String),
                    ],
                    rows,
                )
            }
            DmCommand::ShowExportContainers => {
                let sas = signer.sas(&format!("container/{EXPORT_CONTAINER}"), 'c', "rwd", expiry);
                table(
                    &[("StorageRoot", KqlType::String)],
                    vec![vec![
                        format!("{base}/{ACCOUNT}/{EXPORT_CONTAINER}?{sas}").into(),
                    ]],
                )
            }
            DmCommand::GetKustoIdentityToken => {
                let exp = expiry.timestamp();
                let payload = match caller {
                    Caller::Unauthenticated => json!({"v": 1, "exp": exp, "anonymous": true}),
                    Caller::Principal(identity) => json!({
                        "v": 1,
                        "exp": exp,
                        "claims": identity.claims(),
                        "issuer": identity.issuer(),
                        "tenant": identity.tenant_id(),
                    }),
                };
                table(
                    &[("AuthorizationContext", KqlType::String)],
                    vec![vec![signer.token(&payload).into()]],
                )
            }
        }
    }
}
