/*
 * The names of the mesh: domains, products, tables, columns and teams share one rule, so that
 * each is safe as a path component of the mounted tree and as a file name in an archive.
 */
#ifndef MESHFS_NAMES_H
#define MESHFS_NAMES_H

#define MESH_NAME_MAX 64 /* bytes of a name, NUL included */

/* A meshfs name: 1–63 characters of [a-z0-9_-], starting with a letter or digit. Returns 1 if
 * name is one, else 0. */
int mesh_name_valid(const char *name);

#endif
