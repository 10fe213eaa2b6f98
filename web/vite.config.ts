import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The build is committed and embedded in the Go binary, and CI rebuilds it
// and compares: it must be byte-for-byte reproducible (no timestamps, no
// absolute paths, stable chunk names).
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The sign-in screen's budget is checked on the gzip size of its
    // initial chunks (scripts/web-size); the editor is its own lazy chunk.
    chunkSizeWarningLimit: 1200,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8000',
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    // A shared 2-core CI host can be slow to render Mantine in jsdom.
    testTimeout: 30_000,
  },
});
