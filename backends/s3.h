/*
 * A client of one S3 bucket: requests signed by libcurl (AWS Signature Version 4), bounded in
 * time by mfs_timeout_ms(), retried on answers that say "later" (5xx, 429, SlowDown) and on
 * broken connections, over a pool of curl handles so that many threads share connections. The
 * XML answers (errors, listings, multipart uploads) are read with libxml2.
 *
 * The credential comes from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY (with
 * $AWS_SESSION_TOKEN), else from the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, else
 * ~/.aws/credentials; section $AWS_PROFILE, else [default]). It is never written anywhere:
 * messages name the error code the service gave, not the key.
 */
#ifndef MESHFS_S3_H
#define MESHFS_S3_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "common/error.h"
#include "common/strbuf.h"

struct s3_client;

/* One request and its answer. s3_call_init, set what the request needs, s3_call_run, read the
 * answer, s3_call_release. */
struct s3_call {
	const char *method; /* GET, HEAD, PUT, POST or DELETE */
	const char *key;    /* the object; NULL: the bucket */
	/* The query, without '?', built with s3_query_add: keys in sorted order, values encoded,
	 * a key without a value written "key=" (curl signs the query as written). NULL: none. */
	const char *query;
	const void *body; /* what PUT or POST sends, body_len bytes */
	size_t body_len;
	uint64_t range_off, range_len; /* range_len 0: the whole object */
	void *dst; /* where a 2xx body goes, at most dst_cap bytes; NULL: answer */
	size_t dst_cap;
	int quiet; /* 1: the failure is left in error for the caller, not printed */
	/* 1: sent even while the store is held away after a timeout: a clean-up (an abort, a
	 * removal) that failing at once would leave behind what it undoes */
	int cleanup;

	long status;		 /* the HTTP status, 0 if none came */
	size_t dst_len;		 /* bytes written to dst */
	uint64_t content_length; /* of a HEAD */
	char etag[128];		 /* the ETag header, quotes kept */
	char code[64];		 /* the <Code> of an error answer, "" if none */
	struct strbuf answer;	 /* the body of an XML answer or an error */
	char error[512];	 /* what went wrong, for a person, when s3_call_run failed */
};

/*
 * Opens a client of bucket at endpoint (NULL: $AWS_ENDPOINT_URL, else
 * https://s3.REGION.amazonaws.com) in region (NULL: $AWS_REGION, else $AWS_DEFAULT_REGION, else
 * us-east-1), with the credential found as said above. Nothing is sent yet. Returns 0 or -errno
 * with err set (-EACCES when no credential is found).
 */
int s3_client_open(const char *endpoint, const char *region, const char *bucket,
		   struct s3_client **out, struct mfs_error *err);
/* Frees the client and wipes its credential; no call may be running. */
void s3_client_close(struct s3_client *c);
const char *s3_client_bucket(const struct s3_client *c);
const char *s3_client_region(const struct s3_client *c);

/* Prepares call for method on key (NULL: the bucket); everything else empty. */
void s3_call_init(struct s3_call *call, const char *method, const char *key);
/* Frees what the answer holds; call may be initialised and run again. */
void s3_call_release(struct s3_call *call);
/*
 * Sends the request, again after a backoff with jitter while the answer says "later" or the
 * connection broke, until a final answer or the deadline (mfs_timeout_ms() from now). Returns 0
 * on a 2xx answer; -ENOENT on 404 (printed only for NoSuchBucket); -EEXIST on 409 (not
 * printed); -EACCES when the credential was refused (403); -ETIMEDOUT when no answer came in
 * time; -EIO otherwise. A failure other than those left unprinted goes to stderr as one line
 * "meshfs: store: ..." unless call->quiet; call->error holds it in every case. Thread-safe.
 */
int s3_call_run(struct s3_client *c, struct s3_call *call);

/* Appends key=value to a query (after a '&' unless it is empty), the value encoded as SigV4
 * wants (all but A-Z a-z 0-9 - _ . ~ as %XX). The caller adds the keys in sorted order. Returns 0
 * or -ENOMEM. */
int s3_query_add(struct strbuf *query, const char *key, const char *value);

/* The XML document of an answer, or NULL if it is none; free with xmlFreeDoc. */
xmlDoc *s3_xml_parse(const struct strbuf *answer);
/* The first child element of parent named name (namespaces ignored), or NULL. */
xmlNode *s3_xml_child(const xmlNode *parent, const char *name);
/* The next sibling element of node with node's name, or NULL. */
xmlNode *s3_xml_next(const xmlNode *node);
/* Copies the text of parent's child name into buf (cap bytes with the NUL). Returns its length,
 * -ENOENT if there is no such child, -ENAMETOOLONG if it does not fit. */
int s3_xml_text(const xmlNode *parent, const char *name, char *buf, size_t cap);

#endif
