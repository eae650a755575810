import crypto from 'node:crypto';

// Generated run names look like MLflow's: <adjective>-<noun>-<number>.
const ADJECTIVES = [
  'able', 'adorable', 'amazing', 'agreeable', 'bold', 'brave', 'bright', 'calm', 'capable', 'casual', 'classy',
  'clean', 'clever', 'crisp', 'dapper', 'defiant', 'delicate', 'eager', 'fearless', 'funny', 'gentle', 'gifted',
  'glamorous', 'golden', 'handsome', 'honorable', 'industrious', 'intelligent', 'judicious', 'kindly', 'learned',
  'loud', 'luxuriant', 'magnificent', 'merciful', 'mysterious', 'nebulous', 'nimble', 'orderly', 'peaceful',
  'polite', 'puzzled', 'rebellious', 'redolent', 'resilient', 'rogue', 'rumbling', 'salty', 'sassy', 'secretive',
  'selective', 'sedate', 'serious', 'shivering', 'silent', 'skillful', 'smiling', 'spiffy', 'stately', 'suave',
  'sincere', 'thoughtful', 'trusting', 'unequaled', 'upbeat', 'useful', 'valuable', 'victorious', 'vaunted', 'wise',
];
const NOUNS = [
  'ant', 'ape', 'asp', 'auk', 'bass', 'bat', 'bear', 'bee', 'bird', 'boar', 'bug', 'calf', 'carp', 'cat', 'chimp',
  'cod', 'colt', 'conch', 'cow', 'crab', 'crane', 'croc', 'crow', 'cub', 'deer', 'doe', 'dog', 'dolphin', 'donkey',
  'dove', 'duck', 'eel', 'elk', 'fawn', 'finch', 'fish', 'flea', 'fly', 'foal', 'fowl', 'fox', 'frog', 'gnat',
  'gnu', 'goat', 'goose', 'grouse', 'grub', 'gull', 'hare', 'hawk', 'hen', 'hog', 'horse', 'hound', 'jay', 'kit',
  'koi', 'lamb', 'lark', 'loon', 'lynx', 'mare', 'midge', 'mink', 'mole', 'moose', 'moth', 'mouse', 'mule', 'newt',
  'owl', 'ox', 'panda', 'penguin', 'perch', 'pig', 'pug', 'quail', 'ram', 'rat', 'ray', 'robin', 'roo', 'rook',
  'seal', 'shad', 'shark', 'sheep', 'shoat', 'shrew', 'shrike', 'shrimp', 'skink', 'skunk', 'sloth', 'slug',
  'smelt', 'snail', 'snake', 'snipe', 'sow', 'sponge', 'squid', 'squirrel', 'stag', 'steed', 'stoat', 'stork',
  'swan', 'tern', 'toad', 'trout', 'turtle', 'vole', 'wasp', 'whale', 'wolf', 'worm', 'wren', 'yak', 'zebra',
];

export function generateRunName(): string {
  const pick = <T>(a: T[]) => a[crypto.randomInt(a.length)]!;
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${crypto.randomInt(1000)}`;
}
