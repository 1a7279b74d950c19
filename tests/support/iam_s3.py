"""Which IAM authorisations AWS makes for one S3 REST request (path-style addressing).

From the service authorization reference ("Actions, resources, and condition keys for
Amazon S3") and the API reference's permission notes:

- HeadBucket, ListObjects(V2): s3:ListBucket on the bucket, with `s3:prefix`,
  `s3:delimiter` and `s3:max-keys` from the request when it sends them;
- ListMultipartUploads: s3:ListBucketMultipartUploads on the bucket;
- GetObject, HeadObject: s3:GetObject on the object;
- PutObject, CreateMultipartUpload, UploadPart, CompleteMultipartUpload: s3:PutObject on
  the object; CopyObject and UploadPartCopy: s3:GetObject on the source and s3:PutObject on
  the target;
- ListParts: s3:ListMultipartUploadParts; AbortMultipartUpload: s3:AbortMultipartUpload;
- DeleteObject: s3:DeleteObject (with a versionId: s3:DeleteObjectVersion);
  DeleteObjects: s3:DeleteObject on each key in the body;
- with SSE-KMS (the request's header or the bucket's default): writes need
  kms:GenerateDataKey on the key, a multipart upload also kms:Decrypt, reads of an object
  kept under a KMS key need kms:Decrypt; S3 asks KMS on the caller's behalf, so the context
  carries `kms:ViaService` = s3.REGION.amazonaws.com;
- a read of a missing object: also s3:ListBucket with `s3:prefix` = the key, else 403
  instead of 404 (the object's name is the prefix AWS evaluates).

Anything else maps to an action this module names `s3:Unmapped...`, which no sensible
policy allows: an operation the job starts using shows up as a denial, not as a pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote
from xml.etree import ElementTree

from tests.support.iam_policy import Request

# (bucket, object key or None for the bucket) -> the KMS key ARN the data is kept under.
KmsLookup = Callable[[str, str | None], str | None]


@dataclass(frozen=True)
class S3Call:
    method: str
    path: str  # as sent: percent-encoded, no query
    query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes = b""

    @property
    def params(self) -> dict[str, str]:
        # x-id names the operation for routing (some SDKs send it); it changes no permission.
        pairs = parse_qsl(self.query, keep_blank_values=True)
        return {name: value for name, value in pairs if name != "x-id"}

    @property
    def region(self) -> str:
        found = re.search(r"Credential=[^/]+/\d+/([^/]+)/", self.headers.get("authorization", ""))
        return found.group(1) if found else "us-east-1"

    def bucket_and_key(self) -> tuple[str, str | None]:
        bucket, _, key = self.path.lstrip("/").partition("/")
        return unquote(bucket), (unquote(key) if key else None)


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _copy_source(header: str) -> tuple[str, str]:
    source = unquote(header.split("?", 1)[0]).lstrip("/")
    bucket, _, key = source.partition("/")
    return bucket, key


def _deleted_keys(body: bytes) -> list[str]:
    root = ElementTree.fromstring(body)  # noqa: S314 - the body of our own job's request
    return [el.text or "" for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Key"]


def _bucket_requests(call: S3Call, bucket: str) -> list[Request]:
    arn, params, method = _bucket_arn(bucket), call.params, call.method
    if method == "HEAD":
        return [Request("s3:ListBucket", arn)]  # no s3:prefix: HeadBucket sends none
    if method == "GET":
        if "uploads" in params:
            return [Request("s3:ListBucketMultipartUploads", arn)]
        if "versions" in params:
            return [Request("s3:ListBucketVersions", arn, _list_context(params))]
        if "location" in params:
            return [Request("s3:GetBucketLocation", arn)]
        if not (params.keys() - {"list-type", "prefix", "delimiter", "max-keys", "marker",
                                 "continuation-token", "start-after", "encoding-type",
                                 "fetch-owner"}):  # fmt: skip
            return [Request("s3:ListBucket", arn, _list_context(params))]
    if method == "POST" and "delete" in params:
        return [
            Request("s3:DeleteObject", _object_arn(bucket, k)) for k in _deleted_keys(call.body)
        ]
    if method == "PUT" and not params:
        return [Request("s3:CreateBucket", arn)]
    if method == "DELETE" and not params:
        return [Request("s3:DeleteBucket", arn)]
    return [Request(f"s3:Unmapped{method.title()}Bucket?{call.query}", arn)]


def _list_context(params: Mapping[str, str]) -> dict[str, list[str]]:
    names = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}
    return {key: [params[p]] for p, key in names.items() if p in params}


def _object_requests(call: S3Call, bucket: str, key: str) -> list[Request]:
    arn, params, method = _object_arn(bucket, key), call.params, call.method
    copy = call.headers.get("x-amz-copy-source")
    if method in ("GET", "HEAD"):
        if "uploadId" in params:
            return [Request("s3:ListMultipartUploadParts", arn)]
        if not params.keys() - {"versionId", "partNumber", "response-content-type"}:
            action = "s3:GetObjectVersion" if "versionId" in params else "s3:GetObject"
            return [Request(action, arn)]
    if method == "PUT" and (not params or params.keys() == {"partNumber", "uploadId"}):
        needed = [Request("s3:PutObject", arn)]
        if copy:
            needed.insert(0, Request("s3:GetObject", _object_arn(*_copy_source(copy))))
        return needed
    if method == "POST" and ("uploads" in params or "uploadId" in params):
        return [Request("s3:PutObject", arn)]
    if method == "DELETE":
        if "uploadId" in params:
            return [Request("s3:AbortMultipartUpload", arn)]
        if not params:
            return [Request("s3:DeleteObject", arn)]
        if params.keys() == {"versionId"}:
            return [Request("s3:DeleteObjectVersion", arn)]
    return [Request(f"s3:Unmapped{method.title()}Object?{call.query}", arn)]


def _kms_requests(call: S3Call, bucket: str, key: str | None, kms: KmsLookup) -> list[Request]:
    if key is None:
        return []
    via = {"kms:viaservice": [f"s3.{call.region}.amazonaws.com"]}
    params, method = call.params, call.method
    needed: list[Request] = []
    copy = call.headers.get("x-amz-copy-source")
    writes = method in ("PUT", "POST") and not (method == "POST" and "delete" in params)
    if writes:
        target = call.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
        if call.headers.get("x-amz-server-side-encryption") != "aws:kms" or not target:
            target = kms(bucket, None)
        if target:
            needed.append(Request("kms:GenerateDataKey", target, via))
            if "uploads" in params or "uploadId" in params:
                needed.append(Request("kms:Decrypt", target, via))
    source = _copy_source(copy) if copy else ((bucket, key) if method == "GET" else None)
    if source and not ("uploadId" in params and method == "GET"):
        held = kms(*source)
        if held:
            needed.append(Request("kms:Decrypt", held, via))
    return needed


def authorisations(
    call: S3Call, kms: KmsLookup | None = None, exists: Callable[[str, str], bool] | None = None
) -> list[Request]:
    """Every authorisation AWS makes before it serves `call`.

    `exists(bucket, key)`: whether the object is there. A read of a missing object answers
    404 only to a caller who may also list it (s3:ListBucket with `s3:prefix` = the key),
    and 403 to anyone else; the job tells "absent" from "refused" by that 404.
    """
    bucket, key = call.bucket_and_key()
    if not bucket:
        return [Request("s3:ListAllMyBuckets", "*")]
    needed = _object_requests(call, bucket, key) if key else _bucket_requests(call, bucket)
    reads = call.method in ("GET", "HEAD") and not call.params.keys() & {"uploadId"}
    if key and reads and exists is not None and not exists(bucket, key):
        needed.append(Request("s3:ListBucket", _bucket_arn(bucket), {"s3:prefix": [key]}))
    return needed + (_kms_requests(call, bucket, key, kms) if kms else [])
