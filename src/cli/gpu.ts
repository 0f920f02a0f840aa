// `seedmask gpu`: which adapter seedmask picks here, with its features and the limits that matter.
import { Gpu } from '../gpu/context.js';

export async function run(argv: string[]): Promise<number> {
  const adapter = argv.find((a) => a.startsWith('--adapter='))?.slice('--adapter='.length);
  const gpu = await Gpu.open({ adapter });
  const l = gpu.traits.limits;
  const report = {
    adapter: gpu.adapterName,
    kind: gpu.traits.adapter.kind,
    features: gpu.traits.features,
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  gpu.destroy();
  return 0;
}
