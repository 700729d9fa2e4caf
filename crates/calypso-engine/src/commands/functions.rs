//! Stored functions: `.create|.alter|.create-or-alter function [ifnotexists] [with (folder,
//! docstring, skipvalidation, view)] F(params) { body }`, `.alter function F docstring|folder`,
//! `.drop function(s)`, `.show function(s)`.

use calypso_storage::{EntityKind, Error as SErr, Function};
use kql_functions::KqlType;
use kql_syntax::ast::{FunctionCommand, FunctionVerb, prop};

use super::{Ddl, db_of, function_table};
use crate::security::access::creator_assignment;
use crate::table::table;
use crate::{Caller, Engine, EngineError, RequestOptions, Result, ResultTable};

impl Engine {
    pub(crate) async fn function_command(
        &self,
        caller: &Caller,
        database: &str,
        cmd: &FunctionCommand,
        ddl: &Ddl,
    ) -> Result<ResultTable> {
        let db = database.to_string();
        match cmd {
            FunctionCommand::Define {
                verb,
                if_not_exists,
                with,
                name,
                params: _,
                params_text,
                body,
            } => {
                let bool_prop = |k: &str| prop(with, k).and_then(|v| v.as_bool()).unwrap_or(false);
                let f = Function {
                    name: name.name.clone(),
                    parameters: params_text.clone(),
                    body: format!("{{ {body} }}"),
                    folder: prop(with, "folder").map(|v| v.text()),
                    docstring: prop(with, "docstring").map(|v| v.text()),
                    roles: Vec::new(),
                    view: bool_prop("view"),
                    skip_validation: bool_prop("skipvalidation"),
                };
                if !f.skip_validation {
                    self.validate_function(caller, database, &f)?;
                }
                let (verb, ine) = (*verb, *if_not_exists);
                let mut f2 = f.clone();
                let owner = creator_assignment(caller);
                let ddl = ddl.clone();
                self.storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        let old = d.functions.get(&f2.name).cloned();
                        match (verb, &old) {
                            (FunctionVerb::Create, Some(_)) if ine => return Ok(()),
                            (FunctionVerb::Create, Some(_)) => {
                                return Err(SErr::already_exists(
                                    EntityKind::Function,
                                    f2.name.clone(),
                                ));
                            }
                            (FunctionVerb::Alter, None) => {
                                return Err(SErr::not_found(EntityKind::Function, f2.name.clone()));
                            }
                            _ => {}
                        }
                        // Altering keeps the function's roles; its creator becomes its Admin.
                        f2.roles = match &old {
                            Some(old) => old.roles.clone(),
                            None => owner.into_iter().collect(),
                        };
                        let event = if old.is_some() {
                            "ALTER-FUNCTION"
                        } else {
                            "CREATE-FUNCTION"
                        };
                        let before = old.map(|o| format!("{}{}", o.parameters, o.body));
                        let after = format!("{}{}", f2.parameters, f2.body);
                        let name = f2.name.clone();
                        d.functions.insert(name.clone(), f2);
                        cat.record(ddl.entry(
                            event,
                            &db,
                            &name,
                            &name,
                            before.unwrap_or_default(),
                            after,
                        ));
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let stored = db_of(&cat, database)?
                    .functions
                    .get(&f.name)
                    .cloned()
                    .unwrap_or(f);
                function_table(&[stored])
            }
            FunctionCommand::AlterDocString { name, value }
            | FunctionCommand::AlterFolder { name, value } => {
                let docstring = matches!(cmd, FunctionCommand::AlterDocString { .. });
                let (n, v) = (name.name.clone(), value.clone());
                let entry = ddl.entry(
                    if docstring {
                        "ALTER-FUNCTION-DOCSTRING"
                    } else {
                        "ALTER-FUNCTION-FOLDER"
                    },
                    database,
                    &n,
                    &n,
                    String::new(),
                    v.clone(),
                );
                self.storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        let f = d
                            .functions
                            .get_mut(&n)
                            .ok_or_else(|| SErr::not_found(EntityKind::Function, n.clone()))?;
                        if docstring {
                            f.docstring = Some(v);
                        } else {
                            f.folder = Some(v);
                        }
                        cat.record(entry);
                        Ok(())
                    })
                    .await?;
                let cat = self.storage.catalog();
                let f = db_of(&cat, database)?
                    .functions
                    .get(&name.name)
                    .cloned()
                    .ok_or_else(|| SErr::not_found(EntityKind::Function, name.name.clone()))?;
                function_table(&[f])
            }
            FunctionCommand::Drop {
                names,
                if_exists,
                plural,
            } => {
                let ns: Vec<String> = names.iter().map(|n| n.name.clone()).collect();
                let if_exists = *if_exists;
                let entries: Vec<_> = ns
                    .iter()
                    .map(|n| {
                        ddl.entry(
                            "DROP-FUNCTION",
                            database,
                            n,
                            n,
                            String::new(),
                            String::new(),
                        )
                    })
                    .collect();
                let n2 = ns.clone();
                let dropped = self
                    .storage
                    .commit(move |cat| {
                        let d = cat.require_database_mut(&db)?;
                        if !if_exists
                            && let Some(missing) = n2.iter().find(|n| !d.functions.contains_key(*n))
                        {
                            return Err(SErr::not_found(EntityKind::Function, missing.clone()));
                        }
                        let mut out = Vec::new();
                        let mut recorded = Vec::new();
                        for (n, e) in n2.iter().zip(entries) {
                            if let Some(f) = d.functions.remove(n) {
                                out.push(f);
                                recorded.push(e);
                            }
                        }
                        for e in recorded {
                            cat.record(e);
                        }
                        Ok(out)
                    })
                    .await?;
                if *plural {
                    // `.drop functions` lists the functions that remain.
                    let cat = self.storage.catalog();
                    let rest: Vec<Function> =
                        db_of(&cat, database)?.functions.values().cloned().collect();
                    function_table(&rest)
                } else {
                    table(
                        &[("Name", KqlType::String)],
                        dropped.into_iter().map(|f| vec![f.name.into()]).collect(),
                    )
                }
            }
            FunctionCommand::Show { name, with: _ } => {
                let cat = self.storage.catalog();
                let d = db_of(&cat, database)?;
                match name {
                    None => function_table(&d.functions.values().cloned().collect::<Vec<_>>()),
                    Some(n) => {
                        let f = d.functions.get(&n.name).cloned().ok_or_else(|| {
                            EngineError::NotFound(format!(
                                "Function '{}' was not found in database '{database}'",
                                n.name
                            ))
                        })?;
                        function_table(&[f])
                    }
                }
            }
        }
    }

    /// Checks that a function's body binds in the database (unless `skipvalidation`): a
    /// body that names a missing table or column fails at creation, as in ADX. Each scalar
    /// parameter is bound to a typed null and each tabular one to an empty table of its
    /// columns; features Calypso cannot plan yet do not block the creation.
    fn validate_function(&self, caller: &Caller, database: &str, f: &Function) -> Result<()> {
        let mut text = String::new();
        for p in super::schema::function_params(f) {
            match &p.ty {
                kql_syntax::ast::ParamType::Scalar(t) if t.name == "string" => {
                    text.push_str(&format!("let {} = \"\";\n", p.name.name));
                }
                kql_syntax::ast::ParamType::Scalar(t) => {
                    text.push_str(&format!("let {} = {}(null);\n", p.name.name, t.name));
                }
                kql_syntax::ast::ParamType::Tabular { columns, .. } => {
                    let cols: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
                    text.push_str(&format!(
                        "let {} = datatable({})[];\n",
                        p.name.name,
                        cols.join(", ")
                    ));
                }
            }
        }
        let inner = f.body.trim().trim_start_matches('{').trim_end_matches('}');
        let options = RequestOptions::default();
        let ctx = self.context(caller, database, &options)?;
        let attempt = |body: &str| -> std::result::Result<(), String> {
            let full = format!("{text}{body}");
            let Ok(query) = Self::parse(&full) else {
                return Ok(());
            };
            match crate::plan(&ctx, &query, &full) {
                Err(EngineError::Plan { error, message })
                    if error.kind == kql_planner::PlanErrorKind::Semantic =>
                {
                    Err(message)
                }
                _ => Ok(()),
            }
        };
        let Err(message) = attempt(inner) else {
            return Ok(());
        };
        // A scalar function's body ends with an expression: check it as `print`.
        let parsed = kql_syntax::parse(inner);
        if let Some((last, rest)) = parsed.query.statements.split_last() {
            let mut body: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            body.push(format!("print __result = ({last})"));
            if attempt(&body.join(";\n")).is_ok() {
                return Ok(());
            }
        }
        Err(EngineError::BadRequest(format!(
            "Function '{}' does not validate: {message} (use with (skipvalidation=true) to store it anyway)",
            f.name
        )))
    }
}
