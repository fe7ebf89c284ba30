//! `ithaca corba …`: operator tools for CORBA objects.
//!
//! - `ithaca corba call REF OPERATION --idl FILE [-I DIR]... [ARG]...`
//!   resolves `IOR:`, `corbaloc:` or `corbaname:` text, finds the operation
//!   (or `_get_x`/`_set_x` of an attribute) in the IDL, reads each `in`/
//!   `inout` argument as JSON by its TypeCode, calls the object (following
//!   LOCATION_FORWARD) and prints the reply as JSON:
//!   `{"result": …, "out": {"name": …}}` (exit 0), a user exception as
//!   `{"user_exception": ID, "members": {…}}` and a system exception as
//!   `{"system_exception": ID, "minor": N, "completed": "YES"|"NO"|"MAYBE"}`
//!   (exit 1). Bad usage (IDL errors, unknown operation, bad JSON) exits 2.
//! - `ithaca corba naming-service --listen ADDR [--publish-host HOST]
//!   [--data-dir DIR]` serves a CosNaming service; with a data directory
//!   every binding is saved there before it is answered and reloaded on
//!   restart.
//!
//! JSON mapping: integers and floats are numbers, `boolean` a boolean,
//! `char`/`wchar` a one-character string, `string`/`wstring` a string,
//! `fixed` a decimal string, an enum its member name, a struct or exception
//! an object of its members, a union `{"discriminator": D, NAME: VALUE}`
//! (NAME the selected member), sequences and arrays arrays (octets as
//! numbers), object references `"IOR:…"` or `null`; an `any` is given as a
//! JSON string, number or boolean (sent as `string`, `long long`, `double`
//! or `boolean`) and printed as `{"type": KIND, "value": …}`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use ithaca_idl::dynamic::{Fixed, Operation, TypeCode, Value};
use ithaca_idl::front::{self, model::DeclKind};
use ithaca_idl::giop::{CompletionStatus, SystemException};
use ithaca_idl::ior::{Corbaloc, Ior};
use ithaca_idl::naming::{Corbaname, NamingClient, NamingError, ObjectTarget};
use ithaca_idl::orb::{ClientConfig, Orb, OrbError, ReplyBody};
use serde_json::{Map, Value as Json, json};

/// Exit status for bad usage (IDL, operation, arguments).
const EXIT_USAGE: u8 = 2;

/// How deeply JSON arguments may nest.
const MAX_JSON_DEPTH: usize = 64;

/// `ithaca corba` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CorbaCommand {
    /// Call an operation on any CORBA object and print the reply as JSON;
    /// exit 1 on a user or system exception, 2 on bad usage.
    Call {
        /// The object: IOR:…, corbaloc:… or corbaname:….
        reference: String,
        /// The operation, or _get_ATTR / _set_ATTR.
        operation: String,
        /// The IDL file declaring the object's interface.
        #[arg(long, value_name = "FILE")]
        idl: PathBuf,
        /// Add DIR to the #include search path (repeatable).
        #[arg(short = 'I', value_name = "DIR")]
        include: Vec<PathBuf>,
        /// The interface (scoped name, A::B), when the reference does not
        /// say and several interfaces have the operation.
        #[arg(long, value_name = "NAME")]
        interface: Option<String>,
        /// Give up on the reply after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
        timeout: f64,
        /// The in and inout arguments, one JSON text each, in order.
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Serve a CosNaming naming service (root context under the key
    /// NameService) until SIGTERM or SIGINT.
    NamingService {
        /// Listen on ADDR, e.g. 127.0.0.1:2809.
        #[arg(long, value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// The host put in references (behind NAT or in a container);
        /// the listen address by default.
        #[arg(long, value_name = "HOST")]
        publish_host: Option<String>,
        /// The port put in references; the listen port by default.
        #[arg(long, value_name = "PORT")]
        publish_port: Option<u16>,
        /// Keep the bindings in DIR/naming.snapshot, saved before each
        /// change is answered and reloaded at start.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// Runs a `corba` subcommand.
pub(crate) fn run(command: CorbaCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ithaca: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        CorbaCommand::Call {
            reference,
            operation,
            idl,
            include,
            interface,
            timeout,
            args,
        } => runtime.block_on(call(CallArgs {
            reference,
            operation,
            idl,
            include,
            interface,
            timeout,
            args,
        })),
        CorbaCommand::NamingService {
            listen,
            publish_host,
            publish_port,
            data_dir,
        } => runtime.block_on(naming_service(listen, publish_host, publish_port, data_dir)),
    };
    result.unwrap_or_else(|error| {
        eprintln!("ithaca: {error:#}");
        ExitCode::from(EXIT_USAGE)
    })
}

struct CallArgs {
    reference: String,
    operation: String,
    idl: PathBuf,
    include: Vec<PathBuf>,
    interface: Option<String>,
    timeout: f64,
    args: Vec<String>,
}

async fn call(call: CallArgs) -> anyhow::Result<ExitCode> {
    let options = front::Options {
        include_dirs: call.include.clone(),
        ..front::Options::default()
    };
    let output = front::analyze_file(&call.idl, &options);
    if output.has_errors() {
        for diagnostic in &output.diagnostics {
            eprintln!("{diagnostic}");
        }
        bail!("{} has errors", call.idl.display());
    }
    let model = output.model;
    if !call.timeout.is_finite() || call.timeout <= 0.0 {
        bail!("--timeout must be a positive number of seconds");
    }
    let config = ClientConfig {
        call_timeout: Some(Duration::from_secs_f64(call.timeout.min(86_400.0))),
        ..ClientConfig::default()
    };
    let target = match resolve(&call.reference, config).await {
        Ok(target) => target,
        Err(error) => return Ok(print_failure(&error)),
    };
    let interface = match &call.interface {
        Some(name) => name.clone(),
        None => find_interface(&model, &target.type_id, &call.operation)?,
    };
    let op =
        Operation::from_model(&model, &interface, &call.operation).map_err(|e| anyhow!("{e}"))?;
    let in_params: Vec<_> = op
        .params
        .iter()
        .filter(|p| !matches!(p.dir, front::ast::ParamDir::Out))
        .collect();
    if in_params.len() != call.args.len() {
        bail!(
            "{} takes {} in/inout arguments ({}), {} given",
            op.name,
            in_params.len(),
            in_params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            call.args.len()
        );
    }
    let mut args = Vec::with_capacity(in_params.len());
    for (param, text) in in_params.iter().zip(&call.args) {
        let json: Json = serde_json::from_str(text)
            .with_context(|| format!("argument {}: not JSON", param.name))?;
        let value = from_json(&param.ty, &json, &mut Vec::new(), 0)
            .with_context(|| format!("argument {}", param.name))?;
        args.push(value);
    }
    let orb = Orb::new(config);
    if op.oneway {
        return Ok(
            match orb
                .invoke_oneway(&target, &op.name, |w| op.encode_request(&args, w))
                .await
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => print_failure(&error),
            },
        );
    }
    let reply = match orb
        .invoke(&target, &op.name, |w| op.encode_request(&args, w))
        .await
    {
        Ok((reply, _)) => reply,
        Err(error) => return Ok(print_failure(&error)),
    };
    match reply {
        ReplyBody::Return(mut r) => {
            let values = match op.decode_reply(&mut r) {
                Ok(values) => values,
                Err(error) => return Ok(print_failure(&OrbError::Giop(error))),
            };
            let mut out = Map::new();
            let out_params = op
                .params
                .iter()
                .filter(|p| !matches!(p.dir, front::ast::ParamDir::In));
            for (param, value) in out_params.zip(&values.out) {
                out.insert(
                    param.name.clone(),
                    to_json(&param.ty, value, &mut Vec::new()),
                );
            }
            let result = to_json(&op.result, &values.result, &mut Vec::new());
            println!("{}", json!({ "result": result, "out": out }));
            Ok(ExitCode::SUCCESS)
        }
        ReplyBody::UserException { id, mut members } => {
            let body = match op.decode_exception_members(&id, &mut members) {
                Ok(exception) => {
                    let tc = op.exception(&id).cloned().unwrap_or(TypeCode::Null);
                    to_json(&tc, &exception.members, &mut Vec::new())
                }
                Err(_) => Json::Null,
            };
            println!("{}", json!({ "user_exception": id, "members": body }));
            Ok(ExitCode::FAILURE)
        }
        ReplyBody::System(exception) => Ok(print_system(&exception)),
        ReplyBody::Forward(_) | ReplyBody::None => Ok(print_system(&SystemException::standard(
            "TRANSIENT",
            SystemException::OMG_VMCID,
            CompletionStatus::No,
        ))),
    }
}

/// The reference text as an IOR: `IOR:` as it is, `corbaloc:` with one
/// profile per address, `corbaname:` resolved through its naming context.
async fn resolve(text: &str, config: ClientConfig) -> Result<Ior, OrbError> {
    let text = text.trim();
    let scheme = text
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default();
    let naming = |error: NamingError| match error {
        NamingError::Orb(error) => error,
        NamingError::Reference(error) => OrbError::Giop(error),
        other => OrbError::NoAddress(leak_reason(&other)),
    };
    match scheme.as_str() {
        "ior" => Ok(Ior::from_ior_string(text)?),
        "corbaloc" => Ok(Corbaloc::parse(text)?.to_ior()?),
        "corbaname" => {
            let url = Corbaname::parse(text)?;
            let context = ObjectTarget::from_corbaloc(&url.context)
                .await
                .map_err(naming)?;
            match &url.name {
                None => Ok(url.context.to_ior()?),
                Some(name) => {
                    let mut client = NamingClient::connect(context, config)
                        .await
                        .map_err(naming)?;
                    client.resolve(name).await.map_err(naming)
                }
            }
        }
        _ => Err(OrbError::NoAddress(
            "not an IOR:, corbaloc: or corbaname: reference",
        )),
    }
}

/// A static reason for a naming failure during resolution.
fn leak_reason(error: &NamingError) -> &'static str {
    match error {
        NamingError::NotFound { .. } => "the corbaname: name is not bound (NotFound)",
        NamingError::CannotProceed { .. } => "the naming service cannot proceed (CannotProceed)",
        NamingError::InvalidName => "the corbaname: name is invalid (InvalidName)",
        _ => "the naming service refused the corbaname: name",
    }
}

/// The interface to call: the reference's type if the IDL declares it,
/// else the one interface that has the operation.
fn find_interface(
    model: &front::model::Model,
    type_id: &str,
    operation: &str,
) -> anyhow::Result<String> {
    let interfaces = || {
        model
            .decls
            .iter()
            .filter(|d| matches!(d.kind, DeclKind::Interface { .. }))
    };
    if let Some(decl) = interfaces().find(|d| !type_id.is_empty() && d.repo_id == type_id) {
        return Ok(decl.scoped_name.clone());
    }
    let candidates: Vec<&str> = interfaces()
        .filter(|d| Operation::from_model(model, &d.scoped_name, operation).is_ok())
        .map(|d| d.scoped_name.as_str())
        .collect();
    match candidates.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => bail!("no interface in the IDL has an operation or attribute {operation}"),
        many => bail!(
            "several interfaces have {operation} ({}): choose one with --interface",
            many.join(", ")
        ),
    }
}

fn print_system(exception: &SystemException) -> ExitCode {
    let completed = match exception.completed {
        CompletionStatus::Yes => "YES",
        CompletionStatus::No => "NO",
        CompletionStatus::Maybe => "MAYBE",
    };
    println!(
        "{}",
        json!({
            "system_exception": exception.exception_id,
            "minor": exception.minor,
            "completed": completed,
        })
    );
    ExitCode::FAILURE
}

/// A failure to call, as the system exception a CORBA client reports, with
/// the reason on stderr.
fn print_failure(error: &OrbError) -> ExitCode {
    eprintln!("ithaca: {error}");
    print_system(&error.system_exception())
}

/// A JSON integer narrowed to the IDL integer type `what`.
fn integer<T: TryFrom<i128>>(json: &Json, what: &str) -> anyhow::Result<T> {
    let n = json
        .as_i64()
        .map(i128::from)
        .or_else(|| json.as_u64().map(i128::from))
        .ok_or_else(|| anyhow!("expected an integer, got {json}"))?;
    T::try_from(n).map_err(|_| anyhow!("{n} is out of range for {what}"))
}

/// Reads a JSON argument as a value of `tc`. `enclosing` holds the
/// structs and unions being read, for recursive TypeCodes.
fn from_json(
    tc: &TypeCode,
    json: &Json,
    enclosing: &mut Vec<TypeCode>,
    depth: usize,
) -> anyhow::Result<Value> {
    if depth > MAX_JSON_DEPTH {
        bail!("nested deeper than {MAX_JSON_DEPTH}");
    }
    let text = |json: &Json| -> anyhow::Result<String> {
        json.as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("expected a string, got {json}"))
    };
    let one_char = |json: &Json| -> anyhow::Result<char> {
        let s = text(json)?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(c),
            _ => bail!("expected one character, got {s:?}"),
        }
    };
    let float = |json: &Json| {
        json.as_f64()
            .ok_or_else(|| anyhow!("expected a number, got {json}"))
    };
    Ok(match tc {
        TypeCode::Short => Value::Short(integer(json, "short")?),
        TypeCode::Long => Value::Long(integer(json, "long")?),
        TypeCode::LongLong => Value::LongLong(integer(json, "long long")?),
        TypeCode::UShort => Value::UShort(integer(json, "unsigned short")?),
        TypeCode::ULong => Value::ULong(integer(json, "unsigned long")?),
        TypeCode::ULongLong => Value::ULongLong(integer(json, "unsigned long long")?),
        TypeCode::Octet => Value::Octet(integer(json, "octet")?),
        #[allow(clippy::cast_possible_truncation)]
        TypeCode::Float => Value::Float(float(json)? as f32),
        TypeCode::Double => Value::Double(float(json)?),
        TypeCode::Boolean => Value::Boolean(
            json.as_bool()
                .ok_or_else(|| anyhow!("expected true or false, got {json}"))?,
        ),
        TypeCode::Char => Value::Char(one_char(json)?),
        TypeCode::WChar => Value::WChar(one_char(json)?),
        TypeCode::String(_) => Value::String(text(json)?),
        TypeCode::WString(_) => Value::WString(text(json)?),
        TypeCode::Fixed { .. } => {
            let digits = match json {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                other => bail!("expected a decimal string, got {other}"),
            };
            Value::Fixed(
                Fixed::parse(&digits).ok_or_else(|| anyhow!("{digits:?} is not a decimal"))?,
            )
        }
        TypeCode::Enum { name, members, .. } => {
            let member = text(json)?;
            let index = members.iter().position(|m| *m == member).ok_or_else(|| {
                anyhow!("{member:?} is not one of {name}: {}", members.join(", "))
            })?;
            Value::Enum(u32::try_from(index)?)
        }
        TypeCode::Struct { name, members, .. } | TypeCode::Except { name, members, .. } => {
            let object = json
                .as_object()
                .ok_or_else(|| anyhow!("expected an object for {name}, got {json}"))?;
            if let Some(unknown) = object
                .keys()
                .find(|k| !members.iter().any(|m| m.name == **k))
            {
                bail!("{name} has no member {unknown}");
            }
            enclosing.push(tc.clone());
            let mut fields = Vec::with_capacity(members.len());
            for member in members {
                let value = object
                    .get(&member.name)
                    .ok_or_else(|| anyhow!("{name}: member {} is missing", member.name))?;
                let value = from_json(&member.ty, value, enclosing, depth + 1)
                    .with_context(|| format!("{name}.{}", member.name))?;
                fields.push((member.name.clone(), value));
            }
            enclosing.pop();
            Value::Struct(fields)
        }
        TypeCode::Union {
            name,
            discriminator,
            cases,
            ..
        } => {
            let object = json.as_object().ok_or_else(|| {
                anyhow!("expected {{\"discriminator\": …}} for {name}, got {json}")
            })?;
            let d = object
                .get("discriminator")
                .ok_or_else(|| anyhow!("{name}: no discriminator"))?;
            let d = from_json(discriminator, d, enclosing, depth + 1)?;
            let case = cases
                .iter()
                .find(|c| c.label.as_ref() == Some(&d))
                .or_else(|| cases.iter().find(|c| c.label.is_none()));
            enclosing.push(tc.clone());
            let member = match case {
                Some(case) => {
                    let value = object
                        .get(&case.name)
                        .ok_or_else(|| anyhow!("{name}: member {} is missing", case.name))?;
                    Some(Box::new(from_json(&case.ty, value, enclosing, depth + 1)?))
                }
                None => None,
            };
            enclosing.pop();
            Value::Union {
                discriminator: Box::new(d),
                member,
            }
        }
        TypeCode::Sequence { element, .. } | TypeCode::Array { element, .. } => {
            let items = json
                .as_array()
                .ok_or_else(|| anyhow!("expected an array, got {json}"))?;
            let values = items
                .iter()
                .map(|item| from_json(element, item, enclosing, depth + 1))
                .collect::<anyhow::Result<Vec<_>>>()?;
            match (tc, element.as_ref()) {
                (TypeCode::Sequence { .. }, TypeCode::Octet) => Value::Octets(
                    values
                        .iter()
                        .map(|v| match v {
                            Value::Octet(o) => *o,
                            _ => 0,
                        })
                        .collect::<Vec<u8>>()
                        .into(),
                ),
                (TypeCode::Sequence { .. }, _) => Value::Sequence(values),
                _ => Value::Array(values),
            }
        }
        TypeCode::Alias { original, .. } => from_json(original, json, enclosing, depth + 1)?,
        TypeCode::ObjRef { .. } | TypeCode::AbstractInterface { .. } => match json {
            Json::Null => Value::ObjRef(Ior::default()),
            Json::String(s) => Value::ObjRef(Ior::from_ior_string(s)?),
            other => bail!("expected \"IOR:…\" or null, got {other}"),
        },
        TypeCode::Any => match json {
            Json::String(s) => Value::Any(
                Box::new(TypeCode::String(0)),
                Box::new(Value::String(s.clone())),
            ),
            Json::Bool(b) => Value::Any(Box::new(TypeCode::Boolean), Box::new(Value::Boolean(*b))),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Any(Box::new(TypeCode::LongLong), Box::new(Value::LongLong(i))),
                None => Value::Any(
                    Box::new(TypeCode::Double),
                    Box::new(Value::Double(float(json)?)),
                ),
            },
            other => bail!("an any is given as a string, number or boolean, not {other}"),
        },
        TypeCode::ValueBox { .. } | TypeCode::Value { .. } if json.is_null() => match tc {
            TypeCode::ValueBox { .. } => Value::ValueBox(None),
            _ => Value::Valuetype(None),
        },
        TypeCode::ValueBox { .. } | TypeCode::Value { .. }
            if json.get("$ref").is_some_and(Json::is_u64) =>
        {
            // A shared reference to the n-th value of the arguments.
            let n = json.get("$ref").and_then(Json::as_u64).unwrap_or(0);
            Value::ValueRef(u32::try_from(n)?)
        }
        TypeCode::ValueBox { boxed, .. } => Value::ValueBox(Some(Box::new(from_json(
            boxed,
            json,
            enclosing,
            depth + 1,
        )?))),
        TypeCode::Value { name, .. } => {
            let object = json
                .as_object()
                .ok_or_else(|| anyhow!("expected an object or null for {name}, got {json}"))?;
            // State members, the concrete bases' first.
            let mut chain = Vec::new();
            let mut cur = tc.clone();
            while let TypeCode::Value { base, members, .. } = cur {
                chain.push(members);
                cur = *base;
            }
            let members: Vec<_> = chain.into_iter().rev().flatten().collect();
            if let Some(unknown) = object
                .keys()
                .find(|k| !members.iter().any(|m| m.name == **k))
            {
                bail!("{name} has no member {unknown}");
            }
            enclosing.push(tc.clone());
            let mut fields = Vec::with_capacity(members.len());
            for member in &members {
                let value = object
                    .get(&member.name)
                    .ok_or_else(|| anyhow!("{name}: member {} is missing", member.name))?;
                let value = from_json(&member.ty, value, enclosing, depth + 1)
                    .with_context(|| format!("{name}.{}", member.name))?;
                fields.push((member.name.clone(), value));
            }
            enclosing.pop();
            Value::Valuetype(Some(fields))
        }
        TypeCode::Recursive(id) => {
            let target = enclosing
                .iter()
                .rev()
                .find(|t| matches!(t, TypeCode::Struct { id: i, .. } | TypeCode::Union { id: i, .. } | TypeCode::Value { id: i, .. } if i == id))
                .cloned()
                .ok_or_else(|| anyhow!("recursive type {id} outside its definition"))?;
            from_json(&target, json, enclosing, depth + 1)?
        }
        TypeCode::Null | TypeCode::Void => Value::Null,
        TypeCode::LongDouble => bail!("long double arguments cannot be given as JSON"),
        other => bail!("arguments of type {other:?} cannot be given as JSON"),
    })
}

/// Prints a value of `tc` as JSON (the inverse of [`from_json`]).
fn to_json(tc: &TypeCode, value: &Value, enclosing: &mut Vec<TypeCode>) -> Json {
    let tc = match tc {
        TypeCode::Alias { original, .. } => return to_json(original, value, enclosing),
        TypeCode::Recursive(id) => {
            let target = enclosing.iter().rev().find(|t| {
                matches!(t, TypeCode::Struct { id: i, .. } | TypeCode::Union { id: i, .. } if i == id)
            });
            match target.cloned() {
                Some(target) => return to_json(&target, value, enclosing),
                None => tc,
            }
        }
        other => other,
    };
    match (tc, value) {
        (_, Value::Null) => Json::Null,
        (_, Value::Short(n)) => json!(n),
        (_, Value::Long(n)) => json!(n),
        (_, Value::LongLong(n)) => json!(n),
        (_, Value::UShort(n)) => json!(n),
        (_, Value::ULong(n)) => json!(n),
        (_, Value::ULongLong(n)) => json!(n),
        (_, Value::Float(f)) => json!(f),
        (_, Value::Double(f)) => json!(f),
        (_, Value::Boolean(b)) => json!(b),
        (_, Value::Char(c) | Value::WChar(c)) => json!(c.to_string()),
        (_, Value::Octet(o)) => json!(o),
        (_, Value::String(s) | Value::WString(s)) => json!(s),
        (_, Value::Fixed(f)) => json!(f.to_string()),
        (TypeCode::Enum { members, .. }, Value::Enum(i)) => members
            .get(*i as usize)
            .map_or_else(|| json!(i), |m| json!(m)),
        (_, Value::Enum(i)) => json!(i),
        (TypeCode::Struct { .. } | TypeCode::Except { .. }, Value::Struct(fields)) => {
            let (TypeCode::Struct { members, .. } | TypeCode::Except { members, .. }) = tc else {
                return Json::Null;
            };
            enclosing.push(tc.clone());
            let object = fields
                .iter()
                .map(|(name, v)| {
                    let ty = members
                        .iter()
                        .find(|m| m.name == *name)
                        .map_or(&TypeCode::Null, |m| &m.ty);
                    (name.clone(), to_json(ty, v, enclosing))
                })
                .collect::<Map<_, _>>();
            enclosing.pop();
            Json::Object(object)
        }
        (_, Value::Struct(fields)) => Json::Object(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), to_json(&TypeCode::Null, v, enclosing)))
                .collect(),
        ),
        (
            TypeCode::Union {
                discriminator,
                cases,
                ..
            },
            Value::Union {
                discriminator: d,
                member,
            },
        ) => {
            let mut object = Map::new();
            object.insert("discriminator".into(), to_json(discriminator, d, enclosing));
            let case = cases
                .iter()
                .find(|c| c.label.as_ref() == Some(d.as_ref()))
                .or_else(|| cases.iter().find(|c| c.label.is_none()));
            if let (Some(case), Some(member)) = (case, member) {
                enclosing.push(tc.clone());
                object.insert(case.name.clone(), to_json(&case.ty, member, enclosing));
                enclosing.pop();
            }
            Json::Object(object)
        }
        (
            _,
            Value::Union {
                discriminator,
                member,
            },
        ) => json!({
            "discriminator": to_json(&TypeCode::Null, discriminator, enclosing),
            "value": member.as_ref().map(|m| to_json(&TypeCode::Null, m, enclosing)),
        }),
        (
            TypeCode::Sequence { element, .. } | TypeCode::Array { element, .. },
            Value::Sequence(items) | Value::Array(items),
        ) => Json::Array(
            items
                .iter()
                .map(|v| to_json(element, v, enclosing))
                .collect(),
        ),
        (_, Value::Sequence(items) | Value::Array(items)) => Json::Array(
            items
                .iter()
                .map(|v| to_json(&TypeCode::Null, v, enclosing))
                .collect(),
        ),
        (_, Value::Octets(bytes)) => Json::Array(bytes.iter().map(|b| json!(b)).collect()),
        (_, Value::Any(tc, v)) => json!({
            "type": type_kind(tc),
            "value": to_json(tc, v, &mut Vec::new()),
        }),
        (_, Value::TypeCode(tc)) => json!(type_kind(tc)),
        (_, Value::ObjRef(ior)) if ior.is_nil() => Json::Null,
        (_, Value::ObjRef(ior)) => json!(ior.to_string()),
        (_, Value::LongDouble(bits)) => json!(format!("{:02x?}", bits.0)),
        (_, Value::ValueBox(None) | Value::Valuetype(None)) => Json::Null,
        (_, Value::ValueRef(n)) => json!({ "$ref": n }),
        (_, Value::DerivedValuetype { id, members }) => {
            let mut object: Map<String, Json> = members
                .iter()
                .map(|(name, v)| (name.clone(), to_json(&TypeCode::Null, v, enclosing)))
                .collect();
            object.insert("$type".into(), json!(id));
            Json::Object(object)
        }
        (_, Value::ValueBox(Some(v))) => to_json(&TypeCode::Null, v, enclosing),
        (_, Value::Valuetype(Some(fields))) => Json::Object(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), to_json(&TypeCode::Null, v, enclosing)))
                .collect(),
        ),
    }
}

/// A short name of a TypeCode's kind (`long`, `struct IDL:A/B:1.0`).
fn type_kind(tc: &TypeCode) -> String {
    match tc {
        TypeCode::Struct { id, .. } => format!("struct {id}"),
        TypeCode::Union { id, .. } => format!("union {id}"),
        TypeCode::Enum { id, .. } => format!("enum {id}"),
        TypeCode::Except { id, .. } => format!("exception {id}"),
        TypeCode::Alias { id, .. } => format!("typedef {id}"),
        TypeCode::ObjRef { id, .. } => format!("Object {id}"),
        TypeCode::Sequence { .. } => "sequence".into(),
        TypeCode::Array { .. } => "array".into(),
        TypeCode::String(_) => "string".into(),
        TypeCode::WString(_) => "wstring".into(),
        TypeCode::Fixed { .. } => "fixed".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Serves a naming service until SIGTERM or SIGINT.
async fn naming_service(
    listen: std::net::SocketAddr,
    publish_host: Option<String>,
    publish_port: Option<u16>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use ithaca_idl::naming::{FileStore, NamingLimits, NamingService};
    use ithaca_idl::orb::OrbServer;
    let server = OrbServer::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = server.local_addr();
    let host = publish_host.unwrap_or_else(|| addr.ip().to_string());
    let port = publish_port.unwrap_or(addr.port());
    let naming = match &data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let store = FileStore::in_dir(dir);
            let path = store.path().display().to_string();
            NamingService::install_persistent(&server, &host, port, NamingLimits::default(), store)
                .with_context(|| format!("cannot load {path}"))?
        }
        None => NamingService::install(&server, &host, port),
    };
    let running = server.spawn();
    let root = naming.root_ior().map_err(|e| anyhow!("{e}"))?;
    // Whoever started us may stop reading stdout: serving goes on.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "naming service: corbaloc::{host}:{port}/NameService");
    let _ = writeln!(out, "{root}");
    if let Some(dir) = &data_dir {
        let _ = writeln!(out, "data: {}", FileStore::in_dir(dir).path().display());
    }
    let _ = out.flush();
    drop(out);
    shutdown_signal().await?;
    running.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc_of(idl: &str, name: &str) -> TypeCode {
        let out = front::analyze_str(idl);
        assert!(!out.has_errors(), "{:?}", out.diagnostics);
        TypeCode::from_model(&out.model, name).unwrap()
    }

    #[test]
    fn json_round_trips_through_typecodes() {
        let idl = "module M {
            enum Color { red, green };
            struct Node; typedef sequence<Node> Nodes;
            struct Node { string label; Nodes kids; };
            union U switch (long) { case 1: string s; default: Color c; };
            struct All { short s; unsigned long long big; double d; boolean b; char c;
                         wchar w; wstring ws; fixed<6,2> f; Color e; sequence<octet> o;
                         long grid[2]; U choice; Node tree; any a; Object obj; };
        };";
        let tc = tc_of(idl, "M::All");
        let text = json!({
            "s": -3, "big": u64::MAX, "d": 0.5, "b": true, "c": "x", "w": "€",
            "ws": "日本", "f": "12.50", "e": "green", "o": [1, 2], "grid": [3, 4],
            "choice": {"discriminator": 1, "s": "one"},
            "tree": {"label": "root", "kids": [{"label": "leaf", "kids": []}]},
            "a": "text", "obj": null
        });
        let value = from_json(&tc, &text, &mut Vec::new(), 0).unwrap();
        let back = to_json(&tc, &value, &mut Vec::new());
        let mut expected = text.clone();
        expected["a"] = json!({"type": "string", "value": "text"});
        assert_eq!(back, expected);
    }

    #[test]
    fn bad_json_arguments_are_refused_with_a_reason() {
        let tc = tc_of("module M { struct P { short x; }; };", "M::P");
        for (json, why) in [
            (json!({"x": 40000}), "out of range"),
            (json!({}), "missing"),
            (json!({"x": 1, "y": 2}), "no member y"),
            (json!([1]), "expected an object"),
        ] {
            let error = from_json(&tc, &json, &mut Vec::new(), 0).unwrap_err();
            assert!(format!("{error:#}").contains(why), "{error:#}");
        }
    }
}
