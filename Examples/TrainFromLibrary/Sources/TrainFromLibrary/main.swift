// Training through the library's run API alone, with the command line's defaults:
//
//     swift run -c release TrainFromLibrary DATA.h5 RUN_FOLDER [STEPS]
//
// The folder it writes is an ordinary run: `gen sample --run RUN_FOLDER out.png` samples it and
// `gen train flow --resume RUN_FOLDER` goes on with it.
import Diffusion
import Foundation
import GenCore

let arguments = CommandLine.arguments
guard arguments.count >= 3, arguments.count <= 4, let steps = Int(arguments.count == 4 ? arguments[3] : "200"), steps >= 1 else {
    print("usage: TrainFromLibrary DATA.h5 RUN_FOLDER [STEPS]")
    exit(64)
}
do {
    // A flow-matching run: a small UNet for the data's images, the family's training defaults
    // (lr, warm-up, clipping, EMA, grids and checkpoints) except for the length and the batch.
    let run = try TrainingRun<FlowMatchingFamily>.create(
        in: URL(fileURLWithPath: arguments[2]), data: arguments[1], settings: RunSettings(steps: steps, batchSize: 16)
    ) { data in
        FlowMatchingConfiguration(unet: try UNetConfiguration(imageShape: data.imageShape, baseChannels: 16, channelMultipliers: [1, 2]))
    }
    switch try run.train() {
    case .finished: print("trained \(run.trainer.step) steps into \(arguments[2])")
    case let outcome: print("stopped: \(outcome) at step \(run.trainer.step)"); exit(1)
    }
} catch let error as CategorizedError {
    print("TrainFromLibrary: \(error)")          // one line naming the file and the problem
    exit(error.category == .missingInput ? 66 : 65)
}
