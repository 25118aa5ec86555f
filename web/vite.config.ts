import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// Served by the API at /app/ (services/api, WEB_APP_DIR); `npm run dev -w web` proxies the API of `npm start`.
export default defineConfig({
  base: '/app/',
  plugins: [preact()],
  build: { outDir: 'dist/app', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: { proxy: { '/v1': 'http://127.0.0.1:3000' } },
});
