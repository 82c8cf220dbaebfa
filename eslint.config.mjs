// The linter's configuration lives with its own dependencies (tools/lint/).
export { default } from './tools/lint/eslint.config.mjs';
