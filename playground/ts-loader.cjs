// A transpile-only TypeScript loader for the webpack playground (what ts-loader's transpileOnly
// does), so the same .ts files run under both dev servers.
const ts = require('typescript');

module.exports = function transpile(source) {
  const { outputText, sourceMapText } = ts.transpileModule(source, {
    fileName: this.resourcePath,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: true, verbatimModuleSyntax: false },
  });
  this.callback(null, outputText, sourceMapText && JSON.parse(sourceMapText));
};
