/*
 * Contract compatibility (docs/DESIGN.md §5): what changes between the current contract of a
 * product and a proposed one, and which changes break the readers of its data.
 *
 * Compatible: adding a table or an optional column; relaxing a constraint (required to optional,
 * dropping unique, a primary key, a pattern or a format, widening minimum/maximum/minLength/
 * maxLength); widening integer to number; raising a classification; changing descriptions, tags,
 * status, team, lineage, quality rules, SLA or masks.
 * Breaking: removing or renaming a table or column; any other change of type; making a column
 * required, unique or a primary key; adding a required column; adding or changing a pattern or a
 * format; narrowing a range or a length; lowering a column's classification from PII to not PII
 * (PII being what the policy's classifications make it, as contract_parse decided).
 * Refused whatever the version: moving the contract to another domain or data product, and a
 * version that is not a higher semver than the current one.
 */
#ifndef MESHFS_COMPAT_H
#define MESHFS_COMPAT_H

#include <stddef.h>

#include "contract/contract.h"

enum compat_mode {
	COMPAT_BACKWARD = 0, /* breaking changes only with a new major version */
	COMPAT_NONE,	     /* no compatibility checks; the version must still go up */
};

enum compat_kind {
	COMPAT_FINE,	 /* readers of the data are not affected */
	COMPAT_BREAKING, /* allowed only with a new major version, proposed by the owning team */
	COMPAT_REFUSED,	 /* never allowed */
};

#define COMPAT_MESSAGE_MAX 320

struct compat_change {
	enum compat_kind kind;
	unsigned long line, col; /* in the new contract; 0 where it has no place for the change */
	/* "FILE:LINE:COLUMN: breaking: column orders.amount changes type from integer to string";
	 * the words after the position are compatible, breaking or refused. Names and numbers
	 * only: no value of the data. */
	char message[COMPAT_MESSAGE_MAX];
};

struct compat_report {
	struct compat_change *changes; /* in the order of the new contract, removals first */
	size_t nchanges;
	size_t breaking, refused; /* changes of each kind */
	int major_up;		  /* the new major version is higher than the old one */
};

/*
 * Compares the current contract old with the proposed one next (read from filename; both parsed
 * with the same PII classifications) under mode (enum compat_mode), filling out (release it with
 * compat_report_release, whatever the result). In mode COMPAT_NONE only what is refused is
 * looked at. Returns:
 *   0        the change may go ahead; when compat_report_breaking(out) is not 0 the major version
 *            went up, and the caller must check that the proposer is in the owning team;
 *   -EPERM   breaking changes without a new major version;
 *   -EINVAL  a refused change (see the report);
 *   -ENOMEM.
 */
int contract_compat(const struct contract *old, const struct contract *next, int mode,
		    const char *filename, struct compat_report *out);
/* The number of breaking changes in r. */
size_t compat_report_breaking(const struct compat_report *r);
/* Adds every refused and breaking change of r to err, one per line (mfs_error_add). */
void compat_report_explain(const struct compat_report *r, struct mfs_error *err);
void compat_report_release(struct compat_report *r);

/*
 * Compares two semver versions (semver.org §11): numbers numerically, a prerelease below its
 * release, prerelease identifiers numerically or in ASCII order, build metadata ignored. *out is
 * negative, 0 or positive as a is lower, equal or higher than b. Returns 0, or -EINVAL when a or b
 * is not semver.
 */
int semver_compare(const char *a, const char *b, int *out);

#endif
