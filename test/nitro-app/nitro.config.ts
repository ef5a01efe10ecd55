import { defineNitroConfig } from 'nitro/config';

// Routes live in ./routes (Nitro 3 betas after 3.0.0 scan nothing unless serverDir is set).
export default defineNitroConfig({ serverDir: './' });
