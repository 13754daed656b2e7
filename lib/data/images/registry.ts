/**
 * The image datasets by command-line name: where each is looked for, its splits, and how to open
 * it. Missing data gives one message with the official source and where to put the files.
 */
import { UserError } from "../../errors.ts";
import { CELEBA_FOLDER, type CelebaSplit, locateCeleba, openCeleba } from "./celeba.ts";
import { CIFAR_ARCHIVE, CIFAR_FOLDER, locateCifar, openCifar10 } from "./cifar.ts";
import { isDir, missingData } from "./files.ts";
import { idxStems, openIdxDataset } from "./idx.ts";
import { locateLsun, lsunFolder, type LsunSplit, openLsun } from "./lsun.ts";
import type { ImageDataset } from "./types.ts";

export const IMAGE_DATASET_NAMES = [
  "fashion-mnist",
  "mnist",
  "cifar10",
  "celeba64",
  "lsun-church64",
  "lsun-bedroom64",
  "lsun-church128",
  "lsun-bedroom128",
] as const;
export type ImageDatasetName = typeof IMAGE_DATASET_NAMES[number];

/** Debian's dataset-fashion-mnist package installs the gzipped IDX files here. */
export const DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist";

export interface ImageDatasetInfo {
  name: ImageDatasetName;
  splits: readonly string[];
  /** Where --data defaults to (first existing one is used). */
  defaultPaths: readonly string[];
  height: number;
  width: number;
  channels: 1 | 3;
  /** Whether the format carries class labels. */
  labelled: boolean;
  /** Random horizontal flips in the official DRL setup for this data. */
  flip: boolean;
}

const LSUN: Record<string, { category: string; size: number }> = {
  "lsun-church64": { category: "church_outdoor", size: 64 },
  "lsun-bedroom64": { category: "bedroom", size: 64 },
  "lsun-church128": { category: "church_outdoor", size: 128 },
  "lsun-bedroom128": { category: "bedroom", size: 128 },
};

function lsunInfo(name: ImageDatasetName): ImageDatasetInfo {
  const { size } = LSUN[name];
  return {
    name,
    splits: ["train", "val"],
    defaultPaths: ["data/lsun"],
    height: size,
    width: size,
    channels: 3,
    labelled: false,
    flip: true,
  };
}

const INFO: Record<ImageDatasetName, ImageDatasetInfo> = {
  "fashion-mnist": {
    name: "fashion-mnist",
    splits: ["train", "test"],
    defaultPaths: [DEBIAN_FASHION_MNIST, "data/fashion-mnist"],
    height: 28,
    width: 28,
    channels: 1,
    labelled: true,
    flip: false,
  },
  mnist: {
    name: "mnist",
    splits: ["train", "test"],
    defaultPaths: ["data/mnist"],
    height: 28,
    width: 28,
    channels: 1,
    labelled: true,
    flip: false,
  },
  cifar10: {
    name: "cifar10",
    splits: ["train", "test"],
    defaultPaths: ["data/cifar10"],
    height: 32,
    width: 32,
    channels: 3,
    labelled: true,
    flip: true,
  },
  celeba64: {
    name: "celeba64",
    splits: ["train", "valid", "test", "all"],
    defaultPaths: ["data/celeba"],
    height: 64,
    width: 64,
    channels: 3,
    labelled: false,
    flip: true,
  },
  "lsun-church64": lsunInfo("lsun-church64"),
  "lsun-bedroom64": lsunInfo("lsun-bedroom64"),
  "lsun-church128": lsunInfo("lsun-church128"),
  "lsun-bedroom128": lsunInfo("lsun-bedroom128"),
};

/** Facts about a dataset name; a UserError listing the names when it is unknown. */
export function imageDatasetInfo(name: string): ImageDatasetInfo {
  if (!(IMAGE_DATASET_NAMES as readonly string[]).includes(name)) {
    throw new UserError(`unknown dataset '${name}'; use one of ${IMAGE_DATASET_NAMES.join(", ")}`);
  }
  return INFO[name as ImageDatasetName];
}

export interface OpenOptions {
  /** --data PATH; defaults to the dataset's default locations. */
  data?: string;
  /** Defaults to "train". */
  split?: string;
}

function sourceText(name: ImageDatasetName, split: string): { expected: string; source: string } {
  switch (name) {
    case "fashion-mnist": {
      const s = idxStems(split as "train" | "test");
      return {
        expected: `${s.images}[.gz] and ${s.labels}[.gz]`,
        source: "`apt-get install dataset-fashion-mnist` (puts them in " +
          `${DEBIAN_FASHION_MNIST}) or https://github.com/zalandoresearch/fashion-mnist`,
      };
    }
    case "mnist": {
      const s = idxStems(split as "train" | "test");
      return {
        expected: `${s.images}[.gz] and ${s.labels}[.gz]`,
        source:
          "http://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)",
      };
    }
    case "cifar10":
      return {
        expected: `${CIFAR_FOLDER}/ or ${CIFAR_ARCHIVE}`,
        source:
          `https://www.cs.toronto.edu/~kriz/cifar.html (the binary version, ${CIFAR_ARCHIVE})`,
      };
    case "celeba64":
      return {
        expected: `${CELEBA_FOLDER}/000001.jpg ...`,
        source: "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Align&Cropped Images, " +
          "img_align_celeba.zip, unzipped)",
      };
    default: {
      const folder = lsunFolder(LSUN[name].category, split as LsunSplit);
      return {
        expected: `${folder}/data.mdb`,
        source: `https://github.com/fyu/lsun (python3 download.py -c ${LSUN[name].category}, ` +
          `then unzip ${folder}.zip)`,
      };
    }
  }
}

/** Opens a dataset split by name; UserErrors for unknown names or splits and missing data. */
export async function openImageDataset(
  name: string,
  opts: OpenOptions = {},
): Promise<ImageDataset> {
  const info = imageDatasetInfo(name);
  const split = opts.split ?? "train";
  if (!info.splits.includes(split)) {
    throw new UserError(`${name} has no split '${split}'; use one of ${info.splits.join(", ")}`);
  }
  const candidates = opts.data !== undefined ? [opts.data] : [...info.defaultPaths];
  const fail = () => {
    const { expected, source } = sourceText(info.name, split);
    return missingData({
      dataset: name,
      looked: candidates.join(" or "),
      expected,
      source,
      defaultPath: info.defaultPaths[info.defaultPaths.length - 1],
    });
  };
  for (const path of candidates) {
    switch (info.name) {
      case "fashion-mnist":
      case "mnist": {
        if (!isDir(path)) continue;
        const ds = openIdxDataset(name, path, split as "train" | "test");
        if (ds) return ds;
        continue;
      }
      case "cifar10": {
        const source = locateCifar(path);
        if (source) return openCifar10(source, split as "train" | "test");
        continue;
      }
      case "celeba64": {
        const dir = locateCeleba(path);
        if (dir) return openCeleba(dir, split as CelebaSplit, info.height);
        continue;
      }
      default: {
        const { category, size } = LSUN[info.name];
        const dir = locateLsun(path, category, split as LsunSplit);
        if (dir) return await openLsun(name, dir, split as LsunSplit, size);
        continue;
      }
    }
  }
  throw fail();
}
