import matplotlib.pyplot as plt
import numpy as np

fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
fruits = ['Apples', 'Pears', 'Plums']
x = np.arange(len(fruits))
ax.bar(x - 0.2, [5, 7, 3], 0.4, color='#1f77b4', label='2022')
ax.bar(x + 0.2, [6, 4, 8], 0.4, color='#ff7f0e', label='2023')
ax.set_xticks(x)
ax.set_xticklabels(fruits)
ax.set_title('Fruit sales')
ax.set_ylabel('Tonnes')
ax.legend(loc='upper left')
