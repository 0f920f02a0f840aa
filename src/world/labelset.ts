// The world's label set (class names, synonyms, prompts, background prompts): a plain object with
// no file-system access, so the browser app can use it as the Node CLI does.
import { WORLD_CLASSES } from './classes.js';
import { WORLD_BACKGROUND_PROMPTS } from './scenes.js';

/** The world's label set, as written to labelset.json (loadable with loadLabelSet or parseLabelSet). */
export function worldLabelSetJson(): object {
  return {
    name: 'seedmask-world',
    template: 'a clean origami {}.',
    // CLIP-ES-style synonym fusion: the prompt carries the name and its synonyms.
    classes: WORLD_CLASSES.map((c) => ({ name: c.name, synonyms: [...c.synonyms], prompt: [c.name, ...c.synonyms].join(',') })),
    background: [...WORLD_BACKGROUND_PROMPTS],
  };
}
