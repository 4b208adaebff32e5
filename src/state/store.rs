//! The store under the state: a local directory or an S3-compatible bucket,
//! both through `object_store`, named by the state's own object names
//! (`folder/name`) below a root.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, UpdateVersion};

/// A store and the root every state object lives under.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    root: Root,
}

#[derive(Debug, Clone)]
enum Root {
    /// An absolute directory (not created until something is written).
    Dir(PathBuf),
    /// `s3://bucket/prefix`: the bucket and the prefix, without slashes at
    /// either end.
    S3 { bucket: String, prefix: String },
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

/// `dir` with `.`, `..` and symbolic links resolved as far as it exists;
/// the part that does not exist yet is taken as written (`..` there goes up
/// a name).
fn real(dir: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in dir.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // Up from where the path really is, when it exists.
                out = std::fs::canonicalize(&out).unwrap_or(out);
                out.pop();
            }
            other => out.push(other),
        }
    }
    std::fs::canonicalize(&out).unwrap_or(out)
}

/// What a read saw, for a conditional write after it.
#[derive(Debug, Clone)]
pub struct Version(UpdateVersion);

impl Store {
    /// The store a `--state` value names: `s3://BUCKET/PREFIX`, a `file://`
    /// URL, or a directory path.
    pub fn open(url: &str) -> anyhow::Result<Store> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(
                !bucket.is_empty(),
                "the state URL {url:?} names no bucket: write s3://BUCKET/PREFIX"
            );
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            // A store other than AWS on plain HTTP (a test server, an
            // in-cluster MinIO): the endpoint says so itself.
            let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
            if endpoint.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
            let inner = builder
                .build()
                .map_err(|e| anyhow::anyhow!("cannot use the state store {url}: {e}"))?;
            return Ok(Store {
                inner: Arc::new(inner),
                root: Root::S3 {
                    bucket: bucket.to_string(),
                    prefix: prefix.trim_matches('/').to_string(),
                },
            });
        }
        let dir = match url.strip_prefix("file://") {
            Some(path) => PathBuf::from(path),
            None => PathBuf::from(url),
        };
        anyhow::ensure!(
            !url.contains("://") || url.starts_with("file://"),
            "the state URL {url:?} is neither a directory, a file:// URL nor s3://BUCKET/PREFIX"
        );
        Store::local(&dir)
    }

    /// The local directory `dir`.
    pub fn local(dir: &Path) -> anyhow::Result<Store> {
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| anyhow::anyhow!("cannot find the working directory: {e}"))?
                .join(dir)
        };
        // Object paths hold no `.` or `..`: the directory as it really is
        // (links resolved, as the sandbox's), or its nearest existing
        // ancestor's real path with the rest spelt out.
        let dir = real(&dir);
        Ok(Store {
            inner: Arc::new(LocalFileSystem::new()),
            root: Root::Dir(dir),
        })
    }

    /// The same store with a client of its own, for use from another
    /// runtime (a destructor's thread): a client's pooled connections
    /// belong to the runtime that opened them.
    pub fn fresh(&self) -> Store {
        match &self.root {
            Root::Dir(_) => self.clone(),
            Root::S3 { bucket, prefix } => {
                Store::open(&format!("s3://{bucket}/{prefix}")).unwrap_or_else(|_| self.clone())
            }
        }
    }

    /// Where `name` is, as a reader finds it: a path, or an `s3://` URL.
    pub fn shown(&self, name: &str) -> String {
        match &self.root {
            Root::Dir(dir) => dir.join(name).display().to_string(),
            Root::S3 { bucket, prefix } if prefix.is_empty() => format!("s3://{bucket}/{name}"),
            Root::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}/{name}"),
        }
    }

    fn path(&self, name: &str) -> anyhow::Result<ObjectPath> {
        match &self.root {
            Root::Dir(dir) => ObjectPath::from_absolute_path(dir.join(name))
                .map_err(|e| anyhow::anyhow!("cannot use {}: {e}", self.shown(name))),
            Root::S3 { prefix, .. } if prefix.is_empty() => Ok(ObjectPath::from(name)),
            Root::S3 { prefix, .. } => Ok(ObjectPath::from(format!("{prefix}/{name}"))),
        }
    }

    fn error(&self, what: &str, name: &str, e: object_store::Error) -> anyhow::Error {
        anyhow::anyhow!("cannot {what} the state object {}: {e}", self.shown(name))
    }

    /// The object's bytes and version, or `None` when there is none.
    pub async fn get(&self, name: &str) -> anyhow::Result<Option<(Vec<u8>, Version)>> {
        let path = self.path(name)?;
        let got = match self.inner.get(&path).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.error("read", name, e)),
        };
        let version = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got.bytes().await.map_err(|e| self.error("read", name, e))?;
        Ok(Some((bytes.to_vec(), Version(version))))
    }

    /// Write `name` only if it is still as read (`seen`; `None`: only if it
    /// does not exist). `false` when another writer got there first. A
    /// store without conditional updates (a local directory) overwrites.
    pub async fn put_if(
        &self,
        name: &str,
        bytes: Vec<u8>,
        seen: Option<Version>,
    ) -> anyhow::Result<bool> {
        let path = self.path(name)?;
        let mode = match (&self.root, seen) {
            (Root::Dir(_), _) => PutMode::Overwrite,
            (Root::S3 { .. }, None) => PutMode::Create,
            (Root::S3 { .. }, Some(Version(v))) => PutMode::Update(v),
        };
        match self
            .inner
            .put_opts(&path, bytes.into(), PutOptions::from(mode))
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.error("write", name, e)),
        }
    }

    /// Create `name`; `false` when it exists already (atomic: `O_EXCL`
    /// locally, `If-None-Match: *` on S3).
    pub async fn create_new(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<bool> {
        let path = self.path(name)?;
        match self
            .inner
            .put_opts(&path, bytes.into(), PutOptions::from(PutMode::Create))
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.error("write", name, e)),
        }
    }

    /// Write `name` whole, whatever is there (a rename locally, one PUT on
    /// S3): for objects only the lock holder writes.
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let path = self.path(name)?;
        self.inner
            .put_opts(&path, bytes.into(), PutOptions::from(PutMode::Overwrite))
            .await
            .map(|_| ())
            .map_err(|e| self.error("write", name, e))
    }

    /// Create `name`, which must not exist yet.
    pub async fn create(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.create_new(name, bytes).await?,
            "cannot write the state object {}: it exists already",
            self.shown(name)
        );
        Ok(())
    }

    /// Delete `name`; `false` when it was not there.
    pub async fn delete(&self, name: &str) -> anyhow::Result<bool> {
        let path = self.path(name)?;
        match self.inner.delete(&path).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("remove", name, e)),
        }
    }

    /// The names of the objects directly under the folder `name`.
    pub async fn list(&self, name: &str) -> anyhow::Result<Vec<String>> {
        if let Root::Dir(dir) = &self.root
            && !dir.join(name).is_dir()
        {
            return Ok(Vec::new());
        }
        let path = self.path(name)?;
        let listed = match self.inner.list_with_delimiter(Some(&path)).await {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(self.error("list", name, e)),
        };
        Ok(listed
            .objects
            .iter()
            .filter_map(|o| o.location.filename().map(|f| format!("{name}/{f}")))
            // A local write in progress (`object_store` stages beside it).
            .filter(|n| n.ends_with(".json"))
            .collect())
    }
}
