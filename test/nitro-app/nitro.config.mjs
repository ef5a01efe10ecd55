import { defineConfig } from 'nitro';

// Routes live in ./routes: Nitro 3 scans no server directory unless serverDir is set.
export default defineConfig({ serverDir: './' });
