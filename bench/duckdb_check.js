// The check a user would run with DuckDB instead of a publish, for bench/run
// (docs/PERFORMANCE.md, publishing against DuckDB).
//
//   node bench/duckdb_check.js NODE_MODULES QUERY_FILE THREADS
//
// Loads @duckdb/node-api from NODE_MODULES (bench/run installs it in its work directory), then
// times what the check costs: a database in memory, SET threads = THREADS, and the query that
// bench-duckdb-sql wrote (read_csv in strict mode with the contract's types, one pass counting
// what breaks each rule). Prints
//
//   seconds=1.234 rows=2300000 violations=0
//
// and fails when a rule is broken: the data bench/run generates passes its contract, so a
// violation means that the query does not check what the publish checks.
'use strict';

const fs = require('fs');
const path = require('path');

async function main() {
	if (process.argv.length !== 5) {
		console.error('usage: node duckdb_check.js NODE_MODULES QUERY_FILE THREADS');
		process.exit(2);
	}
	const [modules, queryFile, threads] = process.argv.slice(2);
	const { DuckDBInstance } = require(path.join(modules, '@duckdb', 'node-api'));
	const sql = fs.readFileSync(queryFile, 'utf8');
	if (!/^[0-9]+$/.test(threads)) {
		throw new Error(`THREADS must be a whole number, not ${threads}`);
	}

	const t0 = process.hrtime.bigint();
	const instance = await DuckDBInstance.create(':memory:');
	const con = await instance.connect();
	await con.run(`SET threads = ${threads}`);
	const reader = await con.runAndReadAll(sql);
	const t1 = process.hrtime.bigint();

	const row = reader.getRowObjectsJson()[0];
	let violations = 0;
	for (const [rule, n] of Object.entries(row)) {
		if (rule === 'rows' || Number(n) === 0) {
			continue;
		}
		console.error(`duckdb_check: ${rule}: ${n}`);
		violations += Number(n);
	}
	console.log(`seconds=${(Number(t1 - t0) / 1e9).toFixed(3)} rows=${row.rows} ` +
		`violations=${violations}`);
	con.closeSync();
	instance.closeSync();
	process.exit(violations ? 1 : 0);
}

main().catch((e) => {
	console.error(`duckdb_check: ${e.message}`);
	process.exit(1);
});
