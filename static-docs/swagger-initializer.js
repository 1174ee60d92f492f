// name-api: Swagger UI set-up (ours; the rest of static-docs/ is vendored swagger-ui-dist).
// "openapi.json" is resolved against the page URL: /docs -> /openapi.json, and behind the
// gateway /public/docs -> /public/openapi.json. The document's servers entry (/ or /api)
// then decides where "Try it out" sends requests.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    // pattern-summary-plugin.js: a short description in place of the 4 KB letter pattern.
    plugins: [SwaggerUIBundle.plugins.DownloadUrl, window.NameApiPatternSummaryPlugin],
    deepLinking: true,
    // Keep the subscription key entered in "Authorize" across reloads (localStorage).
    persistAuthorization: true,
    displayRequestDuration: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Works offline: never call the public validator service.
    validatorUrl: null
  });
});
