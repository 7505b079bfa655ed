/*
 * Data contracts: the subset of the Open Data Contract Standard v3 that meshfs acts on
 * (docs/DESIGN.md §4), parsed with libyaml. Unknown keys are accepted and ignored; the source text
 * is what the catalog keeps, so nothing of it is lost.
 */
#ifndef MESHFS_CONTRACT_H
#define MESHFS_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "contract/logical_type.h"
#include "contract/names.h"
#include "crypto/mask.h"
#include "common/error.h"

enum quality_op {
	QOP_NONE = 0,
	QOP_MUST_BE,
	QOP_MUST_NOT_BE,
	QOP_GREATER,	      /* mustBeGreaterThan */
	QOP_GREATER_OR_EQUAL, /* mustBeGreaterOrEqualTo */
	QOP_LESS,	      /* mustBeLessThan */
	QOP_LESS_OR_EQUAL,    /* mustBeLessOrEqualTo */
	QOP_BETWEEN,	      /* mustBeBetween [a, b] */
	QOP_NOT_BETWEEN,      /* mustNotBeBetween [a, b] */
};

struct quality_rule {
	char *name;	   /* may be NULL */
	char *description; /* may be NULL */
	char *type;	   /* "library" (default), "sql", "text", "custom" */
	char *metric;	   /* nullValues, missingValues, invalidValues, duplicateValues, rowCount;
			      NULL unless type is library */
	char *query;	   /* type: sql; NULL for other types */
	enum quality_op op;
	double a, b;	     /* operand(s) */
	int percent;	     /* unit: percent (else rows) */
	int warning;	     /* severity: warning or info (records without rejecting) */
	char **valid_values; /* arguments.validValues / missingValues */
	size_t nvalid;
	char *pattern; /* arguments.pattern */
	char *
	    *properties; /* arguments.properties of a table's duplicateValues (none: whole rows) */
	size_t nproperties;
	unsigned long line, col;
};

struct contract_column {
	char *name;
	char *description;
	enum logical_type type;
	int required, unique, primary_key;
	char *classification; /* may be NULL */
	int pii;	      /* classification is one of the PII classifications */
	enum mask_kind mask;  /* customProperties mask; token by default */
	int has_minimum, has_maximum;
	double minimum, maximum;
	long min_length, max_length; /* -1 when not set */
	char *pattern;		     /* may be NULL */
	char *format;		     /* may be NULL */
	struct quality_rule *quality;
	size_t nquality;
	unsigned long line, col;
};

struct contract_table {
	char *name;
	char *description;
	struct contract_column *columns;
	size_t ncolumns;
	struct quality_rule *quality;
	size_t nquality;
	unsigned long line, col;
};

struct contract_member {
	char *username;
	char *role; /* may be NULL */
};

struct contract {
	char *api_version; /* v3.0.x or v3.1.0 */
	char *id;	   /* "" when not given */
	char *name;	   /* the dataProduct when not given */
	char *domain;
	char *data_product;
	char *version; /* semver as written */
	int major, minor, patch;
	char *status;	  /* "active" when not given */
	int status_given; /* status was written in the contract (a policy may require it) */
	char *purpose;	  /* description.purpose; may be NULL */
	char **tags;
	size_t ntags;
	struct contract_member *team;
	size_t nteam;
	struct contract_table *tables; /* schema objects with physicalType: table */
	size_t ntables;
	int64_t frequency_seconds; /* slaProperties frequency; 0 when not set */
	char *retention;	   /* slaProperties retention as written ("3y"); may be NULL */
	char **inputs;		   /* lineage: DOMAIN/PRODUCT */
	size_t ninputs;
};

/*
 * Parses an ODCS v3 contract from text (len bytes; need not be NUL-terminated). pii_classes is a
 * NULL-terminated list of classifications that make a column PII (NULL: just "pii"). Rejects,
 * with -EINVAL and err "FILE:LINE:COLUMN: …", YAML that does not parse, a wrong apiVersion or kind,
 * a missing domain, dataProduct, version (semver) or schema, a table without columns, a column
 * without a name or with an unknown logicalType, duplicate table or column names, names that are
 * not valid meshfs names, an unknown mask, a quality rule with an unknown metric or operator, and
 * aliases (anchors are not followed: a contract is plain data). On success c owns everything.
 */
int contract_parse(struct contract *c, const char *text, size_t len, const char *filename,
		   const char *const *pii_classes, struct mfs_error *err);
/* Frees everything a parse allocated; c can be parsed into again. */
void contract_release(struct contract *c);
/* The table called name, or NULL. */
const struct contract_table *contract_table(const struct contract *c, const char *name);

#endif
