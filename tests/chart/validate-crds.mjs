// Validates the CRD documents of a rendered chart (JSON array on stdin) that
// kubernetes-validate has no schema for, with validators generated from the upstream API types
// (@kubernetes-models/prometheus-operator, installed by scripts/tools/install-crd-validator.sh).
// These validators check types, enums, patterns and required fields, but they do not reject
// unknown fields: the chart tests assert the exact ServiceMonitor fields and the PrometheusRule's
// keys against the upstream types instead (tests/chart/test_monitoring.py).
// Prints one line per document; exits 1 if any document is invalid or of an unknown CRD kind.
import path from "node:path";
import { pathToFileURL } from "node:url";

const tools = process.env.APP_RUST_TOOLS;
if (!tools) {
  console.error("APP_RUST_TOOLS is not set: source scripts/tools/env.sh");
  process.exit(2);
}
const models = path.join(tools, "npm/crd-validator/node_modules/@kubernetes-models/prometheus-operator");
const kinds = {
  "monitoring.coreos.com/v1/ServiceMonitor": "monitoring.coreos.com/v1/ServiceMonitor.js",
  "monitoring.coreos.com/v1/PrometheusRule": "monitoring.coreos.com/v1/PrometheusRule.js",
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const docs = JSON.parse(input);
let failed = 0;
for (const doc of docs) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const file = kinds[key];
  if (!file) {
    console.log(`ERROR no validator for ${key}`);
    failed++;
    continue;
  }
  const mod = await import(pathToFileURL(path.join(models, file)).href);
  try {
    new mod[doc.kind](doc).validate();
    console.log(`OK ${key} ${doc.metadata.name}`);
  } catch (err) {
    console.log(`ERROR ${key} ${doc.metadata.name}: ${err.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
