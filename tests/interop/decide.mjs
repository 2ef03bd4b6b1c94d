#!/usr/bin/env node
// Decide access requests with node-casbin, to check govgate's compiled Casbin files against a
// second implementation (tests/policies/test_node_casbin.py).
//
//   node decide.mjs MODEL_CONF POLICY_CSV < requests.json
//
// stdin:  a JSON array of requests, each [sub, obj, act, day] (four strings).
// stdout: a JSON array of booleans, one decision a request, in order.
//
// The policy is loaded by node-casbin's own file adapter (`newEnforcer(model, policy)`). Before
// deciding anything, the rules it loaded are compared with the policy file read the plain way
// (every non-comment line split on commas: govgate's compiler writes no quotes and no commas
// inside a column). If node-casbin read any line differently, this exits with status 3 and says
// which lines, instead of deciding with a policy that is not the one compiled.
//
// Exit status: 0 decided; 2 usage or input error; 3 node-casbin mis-read the policy file;
// 4 node-casbin failed to load the files or to decide.

import { readFileSync } from "node:fs";
import { newEnforcer } from "casbin";

const USAGE = "usage: node decide.mjs MODEL_CONF POLICY_CSV < requests.json";

function fail(status, message) {
  process.stderr.write(`decide.mjs: ${message}\n`);
  process.exit(status);
}

function readText(path, what) {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    return fail(2, `cannot read the ${what} ${path}: ${error.message}`);
  }
}

function parseRequests(text) {
  let requests;
  try {
    requests = JSON.parse(text);
  } catch (error) {
    return fail(2, `stdin is not JSON (${error.message}); expected [[sub, obj, act, day], ...]`);
  }
  if (!Array.isArray(requests)) {
    return fail(2, "stdin must be a JSON array of requests [[sub, obj, act, day], ...]");
  }
  requests.forEach((request, index) => {
    const ok =
      Array.isArray(request) &&
      request.length === 4 &&
      request.every((value) => typeof value === "string");
    if (!ok) {
      fail(2, `request ${index} is ${JSON.stringify(request)}, not four strings [sub, obj, act, day]`);
    }
  });
  return requests;
}

// The rules in the policy file as written: [lineNumber, ptype, [values...]] for every
// non-blank, non-comment line.
function plainRules(text) {
  const rules = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) {
      return;
    }
    const [ptype, ...values] = line.split(",").map((column) => column.trim());
    rules.push([index + 1, ptype, values]);
  });
  return rules;
}

// Compare what node-casbin loaded for one ptype with the plain reading of the file.
function misreadings(ptype, loaded, expected, tokens) {
  const problems = [];
  const count = Math.max(loaded.length, expected.length);
  for (let i = 0; i < count && problems.length < 10; i++) {
    const want = expected[i];
    const got = loaded[i];
    if (want === undefined) {
      problems.push(`node-casbin loaded an extra ${ptype} rule ${JSON.stringify(got)}`);
    } else if (got === undefined) {
      problems.push(`line ${want[0]}: node-casbin did not load ${JSON.stringify([ptype, ...want[1]])}`);
    } else if (JSON.stringify(got) !== JSON.stringify(want[1])) {
      problems.push(
        `line ${want[0]}: the file says ${JSON.stringify(want[1])}, node-casbin loaded ${JSON.stringify(got)}`,
      );
    } else if (tokens !== undefined && got.length !== tokens.length) {
      problems.push(
        `line ${want[0]}: ${got.length} values but the model's ${ptype} has ${tokens.length} (${tokens.join(", ")})`,
      );
    }
  }
  return problems;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 2) {
    fail(2, USAGE);
  }
  const [modelPath, policyPath] = args;
  readText(modelPath, "model");
  const policyText = readText(policyPath, "policy");
  const requests = parseRequests(readFileSync(0, "utf8"));

  let enforcer;
  try {
    enforcer = await newEnforcer(modelPath, policyPath);
  } catch (error) {
    fail(4, `node-casbin cannot load ${modelPath} and ${policyPath}: ${error.message}`);
  }

  const rules = plainRules(policyText);
  const unknown = rules.filter(([, ptype]) => ptype !== "p" && ptype !== "g");
  const model = enforcer.getModel().model;
  const problems = [
    ...unknown.map(([line, ptype]) => `line ${line}: unknown rule type ${JSON.stringify(ptype)}`),
    ...misreadings(
      "p",
      await enforcer.getPolicy(),
      rules.filter(([, ptype]) => ptype === "p").map(([line, , values]) => [line, values]),
      model.get("p")?.get("p")?.tokens,
    ),
    ...misreadings(
      "g",
      await enforcer.getGroupingPolicy(),
      rules.filter(([, ptype]) => ptype === "g").map(([line, , values]) => [line, values]),
      undefined,
    ),
  ];
  if (problems.length > 0) {
    fail(
      3,
      `node-casbin's file adapter read ${policyPath} differently from how it is written:\n  ` +
        problems.join("\n  "),
    );
  }

  const decisions = [];
  for (const [index, request] of requests.entries()) {
    try {
      decisions.push(Boolean(await enforcer.enforce(...request)));
    } catch (error) {
      fail(4, `node-casbin failed on request ${index} ${JSON.stringify(request)}: ${error.message}`);
    }
  }
  process.stdout.write(`${JSON.stringify(decisions)}\n`);
}

main().catch((error) => fail(4, error.stack ?? String(error)));
