// Opens the Swagger UI docs in a real headless Chromium and uses them as a person would:
// the spec loads, "Authorize" takes a subscription key, "Try it out" + "Execute" calls the
// API and shows the response. Fails on any Content-Security-Policy violation or console
// error, and saves a screenshot either way.
//
//   node docs.mjs --url http://127.0.0.1:PORT/docs --screenshot out.png
//        [--key SUBSCRIPTION_KEY] [--expect-status 200] [--starts-with N]
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    screenshot: { type: "string" },
    key: { type: "string" },
    "expect-status": { type: "string", default: "200" },
    "starts-with": { type: "string", default: "N" },
    "timeout-ms": { type: "string", default: "20000" },
    "expect-url-prefix": { type: "string" },
  },
});
if (!opts.url || !opts.screenshot) {
  console.error("usage: node docs.mjs --url URL --screenshot FILE [--key KEY] [--expect-status N]");
  process.exit(2);
}
const timeout = Number(opts["timeout-ms"]);
const expectStatus = Number(opts["expect-status"]);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const problems = [];
const apiRequests = [];
let failed = false;
const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
page.setDefaultTimeout(timeout);
try {
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on("console", (msg) => {
    // Swagger UI's own notice about underscores in deep links is not a fault.
    // Nor is the browser's note about an API call that answered 4xx: the test checks those.
    const fromApiCall = (msg.location()?.url ?? "").includes("/generate_name");
    if (msg.type() === "error" && !fromApiCall && !msg.text().includes("Deprecated: escaping deep link")) {
      problems.push(`console error: ${msg.text()}`);
    }
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("request", (req) => {
    if (req.url().includes("/generate_name")) apiRequests.push({ url: req.url(), headers: req.headers() });
  });
  page.on("response", (res) => {
    const url = res.url();
    if (!url.includes("/generate_name") && res.status() >= 400) problems.push(`HTTP ${res.status()} for ${url}`);
  });

  await page.goto(opts.url, { waitUntil: "load" });
  const op = page.locator("#operations-names-generate_name");
  await op.waitFor();
  const title = await page.locator(".info .title").innerText();
  if (!title.includes("name-api")) throw new Error(`unexpected title: ${title}`);

  if (opts.key) {
    await page.locator(".auth-wrapper .btn.authorize").click();
    const modal = page.locator(".modal-ux");
    await modal.waitFor();
    // One form per apiKey scheme; fill the header one.
    const form = modal.locator(".auth-container", { hasText: "Ocp-Apim-Subscription-Key" }).first();
    await form.locator("input").first().fill(opts.key);
    await form.getByRole("button", { name: "Apply credentials" }).click();
    await modal.locator(".btn-done").first().click();
    await modal.waitFor({ state: "detached" });
  }

  await op.locator(".opblock-summary-control").click();
  await op.locator(".try-out__btn").click();

  // The 4 KB letter pattern stays in the document; a person sees its short summary instead
  // (static-docs/pattern-summary-plugin.js), next to the parameter and in the input's
  // validation message.
  const spec = await (await fetch(new URL("openapi.json", page.url()))).json();
  const schema = spec.paths["/generate_name"].get.parameters[0].schema;
  const pattern = schema.pattern;
  const summary = schema["x-pattern-summary"];
  if (!(pattern.length > 1000 && summary)) throw new Error("expected a long pattern with an x-pattern-summary");
  const row = op.locator('tr[data-param-name="starts_with"]');
  const rowText = await row.innerText();
  const pageText = await page.locator("body").innerText();
  if (!rowText.includes(`pattern: ${summary}`)) throw new Error(`the parameter row does not show the summary: ${rowText}`);
  if (pageText.includes(pattern.slice(0, 24)) || pageText.includes(pattern.slice(-24))) {
    throw new Error("the page shows the raw letter pattern");
  }
  if (!(await row.getByRole("link", { name: "openapi.json" }).isVisible())) throw new Error("no link to the exact pattern");
  const input = row.locator("input");
  const sentBefore = apiRequests.length;
  await input.fill("N4");
  await op.locator(".btn.execute").click();
  await row.locator("input.invalid").waitFor();
  const tooltip = (await input.getAttribute("title")) ?? "";
  if (!tooltip.includes(`Value must be ${summary}`) || tooltip.includes(pattern.slice(0, 24))) {
    throw new Error(`unexpected validation message for an invalid value: ${tooltip.slice(0, 300)}`);
  }
  if (apiRequests.length !== sentBefore) throw new Error("an invalid value was sent to the API");
  console.log(`docs: the pattern shows as its ${summary.length}-character summary, not its ${pattern.length} characters`);

  await input.fill(opts["starts-with"]);
  await op.locator(".btn.execute").click();
  const status = op.locator(".live-responses-table tbody tr.response .response-col_status").first();
  await status.waitFor();
  const statusText = (await status.innerText()).trim();
  if (!statusText.startsWith(String(expectStatus))) {
    throw new Error(`Try-it-out showed status "${statusText}", expected ${expectStatus}`);
  }
  const body = await op.locator(".live-responses-table .response-col_description pre").first().innerText();
  const json = JSON.parse(body);
  if (expectStatus === 200) {
    const prefix = opts["starts-with"].toLowerCase();
    if (typeof json.name !== "string" || !json.name.toLowerCase().startsWith(prefix)) {
      throw new Error(`response body has no name starting with ${prefix}: ${body}`);
    }
    console.log(`docs: Try-it-out returned 200 ${body.replace(/\s+/g, " ")}`);
  } else {
    console.log(`docs: Try-it-out returned ${statusText} ${body.replace(/\s+/g, " ")}`);
  }
  if (apiRequests.length === 0) throw new Error("no request to /generate_name was seen");
  const sent = apiRequests[apiRequests.length - 1];
  if (opts.key && sent.headers["ocp-apim-subscription-key"] !== opts.key) {
    throw new Error("Authorize did not add the Ocp-Apim-Subscription-Key header");
  }
  console.log(`docs: request went to ${sent.url}`);
  if (opts["expect-url-prefix"] && !sent.url.startsWith(opts["expect-url-prefix"])) {
    throw new Error(`Try-it-out called ${sent.url}, expected ${opts["expect-url-prefix"]}...`);
  }
  const csp = await page.evaluate(() => window.__cspViolations);
  problems.push(...csp.map((v) => `CSP violation: ${v}`));
  if (problems.length) throw new Error(problems.join("\n"));
} catch (err) {
  failed = true;
  console.error(`docs: FAILED: ${err.message}`);
} finally {
  await page.screenshot({ path: opts.screenshot, fullPage: true }).catch(() => {});
  console.log(`docs: screenshot ${opts.screenshot}`);
  await browser.close();
}
process.exit(failed ? 1 : 0);
