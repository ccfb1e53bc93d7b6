import { defineConfig } from "vitest/config";

// Preact through its React-compatible layer so @tanstack/react-virtual works unchanged; JSX is
// compiled by esbuild, so no framework plugin is needed.
export default defineConfig({
  resolve: {
    alias: {
      react: "preact/compat",
      "react-dom": "preact/compat",
      "react/jsx-runtime": "preact/jsx-runtime",
    },
  },
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, sourcemap: false },
  clearScreen: false,
  test: {
    environment: "jsdom",
    globals: true,
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    setupFiles: ["src/test/setup.ts"],
    // Run the virtual list through Vite too, so its `react` import meets the preact/compat alias.
    server: { deps: { inline: [/@tanstack\/react-virtual/] } },
  },
});
