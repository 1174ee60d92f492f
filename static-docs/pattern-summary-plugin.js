// name-api: a Swagger UI plugin (ours) that shows a short description in place of a long
// regular expression. The `starts_with` pattern spells out every letter of the Basic
// Multilingual Plane as \uXXXX ranges (about 4 KB, so that every regex engine reads it
// alike); printed as is, it fills the Try-it-out panel. The document keeps the exact
// pattern and gives its schema an `x-pattern-summary`; wherever Swagger UI would print that
// pattern (the parameter's "pattern:" line, the "Value must follow pattern" error of its
// input), this plugin prints the summary. Loaded by index.html as a file: the page's CSP
// allows no inline script.
window.NameApiPatternSummaryPlugin = function (system) {
  var React = system.React;
  var ERROR_PREFIX = "Value must follow pattern ";

  // pattern -> summary, from every schema in the loaded document that has both (computed
  // once per loaded document).
  var cache = { spec: undefined, found: {} };
  function summaries() {
    var spec = system.specSelectors.specJson();
    if (spec === cache.spec) return cache.found;
    var found = {};
    var visit = function (node) {
      if (!node || typeof node !== "object") return;
      if (typeof node.pattern === "string" && typeof node["x-pattern-summary"] === "string") {
        found[node.pattern] = node["x-pattern-summary"];
      }
      Object.keys(node).forEach(function (key) { visit(node[key]); });
    };
    visit(spec && spec.toJS ? spec.toJS() : spec);
    cache = { spec: spec, found: found };
    return found;
  }

  return {
    wrapComponents: {
      // The "pattern: ..." line under a parameter (showCommonExtensions).
      ParameterExt: function (Original) {
        return function (props) {
          var summary = props.xKey === "pattern" && summaries()[String(props.xVal)];
          if (!summary) return React.createElement(Original, props);
          return React.createElement(
            "div",
            { className: "parameter__extension parameter__pattern-summary" },
            "pattern: ", summary, " (the exact " + String(props.xVal).length + "-character expression is in ",
            React.createElement("a", { href: "openapi.json", target: "_blank", rel: "noopener" }, "openapi.json"),
            ")"
          );
        };
      },
      // The validation message of a string input (shown as the input's tooltip).
      JsonSchema_string: function (Original) {
        return function (props) {
          var errors = props.errors;
          if (!errors || typeof errors.map !== "function") return React.createElement(Original, props);
          var known = summaries();
          var shortened = errors.map(function (error) {
            if (typeof error !== "string" || error.indexOf(ERROR_PREFIX) !== 0) return error;
            var summary = known[error.slice(ERROR_PREFIX.length)];
            return summary ? "Value must be " + summary : error;
          });
          return React.createElement(Original, Object.assign({}, props, { errors: shortened }));
        };
      },
    },
  };
};
